"""Partner events: every partner event the API accepted, recorded durably before it answers 2xx.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "partner_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("shipment_id", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("signal", sa.JSON, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'order-closed', 'recorded-after-close')",
            name="ck_partner_event_status",
        ),
    )
    op.create_index(
        "uq_partner_events_partner_event",
        "partner_events",
        ["partner_id", "event_id"],
        unique=True,
    )
    op.create_index(
        "ix_partner_events_status_next", "partner_events", ["status", "next_attempt_at"]
    )
    op.create_index("ix_partner_events_order", "partner_events", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_events_order", "partner_events")
    op.drop_index("ix_partner_events_status_next", "partner_events")
    op.drop_index("uq_partner_events_partner_event", "partner_events")
    op.drop_table("partner_events")
