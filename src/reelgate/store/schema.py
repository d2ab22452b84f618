"""Table definitions. Migrations in `migrations/versions` create exactly these.

Times are unix seconds as floats: one representation on SQLite and PostgreSQL, cheap to compare
in the claim and reaper statements, and free of time-zone handling.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column("dialect", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("progress", sa.Float, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("callback_url", sa.Text),
    sa.Column("runway_version", sa.String(16), nullable=False),
    # Lease: `lease_token` grows by one at every claim; every write a worker makes names the token
    # it was given, so a worker that stalled past its lease cannot touch a newer attempt.
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_token", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker_id", sa.String(64)),
    sa.Column("lease_until", sa.Float),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failure", sa.Text),
    sa.Column("failure_code", sa.String(64)),
    sa.Column("video_key", sa.Text),
    sa.Column("poster_key", sa.Text),
    sa.Column("outputs_expired_at", sa.Float),
    sa.Column("remixed_from", sa.String(36)),
    sa.Column("request_id", sa.String(64)),  # X-Request-Id of the create
    sa.Column("trace_context", sa.JSON(none_as_null=True)),  # W3C trace context of the create
    sa.Column("timings", sa.JSON(none_as_null=True)),  # seconds per stage of the last attempt
    sa.Column("output_meta", sa.JSON(none_as_null=True)),  # MediaInfo of the published clip
    sa.Column("upstream_ref", sa.JSON(none_as_null=True)),  # UpstreamRef of a forwarded job
)
sa.Index("ix_tasks_queue", tasks.c.status, tasks.c.created_at)
# A worker finds its models' oldest queued task without reading other models' backlog.
sa.Index("ix_tasks_queue_model", tasks.c.status, tasks.c.model, tasks.c.created_at)
sa.Index("ix_tasks_finished", tasks.c.status, tasks.c.finished_at)
sa.Index("ix_tasks_owner_status", tasks.c.owner_id, tasks.c.status)
sa.Index("ix_tasks_owner", tasks.c.owner_id, tasks.c.created_at)
sa.Index("ix_tasks_lease", tasks.c.status, tasks.c.lease_until)

# Upstream jobs left running by tasks that ended without them (cancelled or failed while the
# job may still run there, e.g. after the worker holding it died), written in the transaction
# that ends the task; a worker cancels each job upstream, then deletes its row (worker/jobs.py).
# A row outlives its task, which its owner may delete meanwhile.
upstream_abandoned = sa.Table(
    "upstream_abandoned",
    metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("ref", sa.JSON, nullable=False),  # the job's UpstreamRef
    sa.Column("abandoned_at", sa.Float, nullable=False),
    sa.Column("retry_at", sa.Float, nullable=False),  # not looked at again before this
)
sa.Index("ix_upstream_abandoned_due", upstream_abandoned.c.model, upstream_abandoned.c.retry_at)

# Queued + running (`active`) and running tasks per owner, changed in the same transaction as
# every status change: the quota and the running cap read one row instead of counting tasks.
owner_counts = sa.Table(
    "owner_counts",
    metadata,
    sa.Column("owner_id", sa.String(64), primary_key=True),
    sa.Column("active", sa.Integer, nullable=False, server_default="0"),
    sa.Column("running", sa.Integer, nullable=False, server_default="0"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
    # Per-key overrides of the quota settings; NULL means the server-wide setting.
    sa.Column("max_active_tasks", sa.Integer),
    sa.Column("rate_per_minute", sa.Float),
    # An admin key may manage keys and read the workers and the queue (api/native/operate.py).
    sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false()),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("owner_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(36)),  # NULL while the first request is being created
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_idempotency_created", idempotency_keys.c.created_at)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # the Standard Webhooks `webhook-id`
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("destination", sa.String(255), nullable=False, server_default=""),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("locked_until", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("last_status", sa.Integer),
)
sa.Index("ix_webhook_events_due", webhook_events.c.state, webhook_events.c.next_attempt_at)
sa.Index("ix_webhook_events_task", webhook_events.c.task_id)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text),
)
sa.Index("ix_webhook_attempts_event", webhook_attempts.c.event_id)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(96), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("models", sa.JSON, nullable=False),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("current_task_id", sa.String(36)),
)
sa.Index("ix_workers_heartbeat", workers.c.heartbeat_at)
