"""Remix lineage, and an index for the per-key running cap in claims.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("remixed_from", sa.String(36)))
    op.create_index("ix_tasks_owner_status", "tasks", ["owner_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_owner_status", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("remixed_from")
