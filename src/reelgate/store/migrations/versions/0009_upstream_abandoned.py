"""The `upstream_abandoned` table: upstream jobs whose task ended without them, kept until a
worker has cancelled them upstream. Tasks that ended before this revision are not looked at.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_abandoned",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("ref", sa.JSON, nullable=False),
        sa.Column("abandoned_at", sa.Float, nullable=False),
        sa.Column("retry_at", sa.Float, nullable=False),
    )
    op.create_index("ix_upstream_abandoned_due", "upstream_abandoned", ["model", "retry_at"])


def downgrade() -> None:
    op.drop_index("ix_upstream_abandoned_due", table_name="upstream_abandoned")
    op.drop_table("upstream_abandoned")
