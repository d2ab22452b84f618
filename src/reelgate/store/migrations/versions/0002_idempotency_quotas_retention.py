"""Idempotency keys, per-key quota overrides, output retention.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(36)),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_idempotency_created", "idempotency_keys", ["created_at"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("max_active_tasks", sa.Integer))
        batch.add_column(sa.Column("rate_per_minute", sa.Float))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("outputs_expired_at", sa.Float))
    op.create_index("ix_tasks_finished", "tasks", ["status", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_finished", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("outputs_expired_at")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_per_minute")
        batch.drop_column("max_active_tasks")
    op.drop_table("idempotency_keys")
