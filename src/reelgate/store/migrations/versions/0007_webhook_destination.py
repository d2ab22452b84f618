"""Each webhook event's destination (`scheme://host:port` of its URL), so the notifier can cap
deliveries per receiver and a slow one delays only its own events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from reelgate.store.rules import destination

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhook_events",
        sa.Column("destination", sa.String(255), nullable=False, server_default=""),
    )
    events = sa.table(
        "webhook_events",
        sa.column("id", sa.String),
        sa.column("url", sa.Text),
        sa.column("destination", sa.String),
    )
    connection = op.get_bind()
    pending = connection.execute(
        sa.select(events.c.id, events.c.url).where(events.c.destination == "")
    ).all()
    for event_id, url in pending:
        connection.execute(
            events.update().where(events.c.id == event_id).values(destination=destination(url))
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("destination")
