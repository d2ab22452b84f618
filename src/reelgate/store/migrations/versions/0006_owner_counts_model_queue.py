"""Per-owner task counters and a per-model queue index, so claims and creates cost the same
however large the tasks table grows.

The counters are filled from the tasks as they are; stop every reelgate process before
migrating, since one still running the older code would change tasks without counting them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_queue_model", "tasks", ["status", "model", "created_at"])
    op.create_table(
        "owner_counts",
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("active", sa.Integer, nullable=False, server_default="0"),
        sa.Column("running", sa.Integer, nullable=False, server_default="0"),
    )
    op.execute(
        "INSERT INTO owner_counts (owner_id, active, running) "
        "SELECT owner_id, "
        "SUM(CASE WHEN status IN ('queued', 'running') THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) "
        "FROM tasks WHERE status IN ('queued', 'running') GROUP BY owner_id"
    )


def downgrade() -> None:
    op.drop_table("owner_counts")
    op.drop_index("ix_tasks_queue_model", "tasks")
