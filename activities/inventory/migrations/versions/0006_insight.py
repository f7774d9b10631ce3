"""Insight: routing decisions, shipment outcomes and money per order, for KPIs and reports.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "shipment_outcomes",
        sa.Column("shipment_id", sa.String(160), primary_key=True),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("route_attempt", sa.Integer, nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("node_type", sa.String(20), nullable=False, server_default=""),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("service", sa.String(32), nullable=False, server_default=""),
        # requested | accepted | rejected | shipped | delivered | cancelled
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reject_reason", sa.String(200), nullable=True),
        # Missed its ship-by SLA (shipped late, or cancelled at the node for it).
        sa.Column("breached", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("units", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skus", sa.JSON, nullable=False),
        sa.Column("shipping_cost", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("handling_cost", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ship_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deliver_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'accepted', 'rejected', 'shipped', 'delivered', 'cancelled')",
            name="ck_shipment_outcome_status",
        ),
    )
    op.create_index("ix_shipment_outcomes_order", "shipment_outcomes", ["order_id"])
    op.create_index(
        "ix_shipment_outcomes_node_requested", "shipment_outcomes", ["node", "requested_at"]
    )
    op.create_index("ix_shipment_outcomes_status", "shipment_outcomes", ["status"])
    op.create_table(
        "routing_decisions",
        sa.Column("order_id", sa.String(120), primary_key=True),
        sa.Column("route_attempt", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("shipments", sa.Integer, nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("backordered_units", sa.Integer, nullable=False),
        sa.Column("nodes", sa.JSON, nullable=False),
        sa.Column("total_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("shipping_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("handling_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("split_penalty", sa.Numeric(12, 2), nullable=False),
        sa.Column("backorder_penalty", sa.Numeric(12, 2), nullable=False),
        sa.Column("rule_adjustments", sa.Numeric(12, 2), nullable=False),
        sa.Column("baseline_cost", sa.Numeric(12, 2), nullable=True),
        sa.Column("alternatives", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_routing_decisions_created", "routing_decisions", ["created_at"])
    op.create_table(
        "order_finance",
        sa.Column("order_id", sa.String(120), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("revenue", sa.Numeric(12, 2), nullable=False),
        # What the cancelled units were sold for: never charged, so not revenue.
        sa.Column("cancelled_value", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("refunds", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("skus", sa.JSON, nullable=False),
        sa.Column("cancelled_units", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_finance_received", "order_finance", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_order_finance_received", table_name="order_finance")
    op.drop_table("order_finance")
    op.drop_index("ix_routing_decisions_created", table_name="routing_decisions")
    op.drop_table("routing_decisions")
    op.drop_index("ix_shipment_outcomes_status", table_name="shipment_outcomes")
    op.drop_index("ix_shipment_outcomes_node_requested", table_name="shipment_outcomes")
    op.drop_index("ix_shipment_outcomes_order", table_name="shipment_outcomes")
    op.drop_table("shipment_outcomes")
