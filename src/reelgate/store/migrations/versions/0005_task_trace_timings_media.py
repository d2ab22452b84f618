"""Request id, trace context, stage timings, probed media and upstream job of each task.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64)))
        batch.add_column(sa.Column("trace_context", sa.JSON))
        batch.add_column(sa.Column("timings", sa.JSON))
        batch.add_column(sa.Column("output_meta", sa.JSON))
        batch.add_column(sa.Column("upstream_ref", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("upstream_ref")
        batch.drop_column("output_meta")
        batch.drop_column("timings")
        batch.drop_column("trace_context")
        batch.drop_column("request_id")
