"""Shadow planning: per-order deltas of candidate policies against the live plan.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "shadow_policies",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "shadow_plans",
        sa.Column("order_id", sa.String(120), primary_key=True),
        sa.Column("route_attempt", sa.Integer, primary_key=True),
        sa.Column("policy", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("live_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("live_spend", sa.Numeric(12, 2), nullable=False),
        sa.Column("shadow_cost", sa.Numeric(12, 2), nullable=True),
        sa.Column("shadow_spend", sa.Numeric(12, 2), nullable=True),
        sa.Column("live_shipments", sa.Integer, nullable=False),
        sa.Column("shadow_shipments", sa.Integer, nullable=True),
        sa.Column("live_backordered_units", sa.Integer, nullable=False),
        sa.Column("shadow_backordered_units", sa.Integer, nullable=True),
        sa.Column("live_promise_met", sa.Boolean, nullable=False),
        sa.Column("shadow_promise_met", sa.Boolean, nullable=True),
        sa.Column("live_nodes", sa.JSON, nullable=False),
        sa.Column("shadow_nodes", sa.JSON, nullable=True),
        sa.Column("shadow_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shadow_plans_created", "shadow_plans", ["created_at"])
    op.create_table(
        "routing_inputs",
        sa.Column("order_id", sa.String(120), primary_key=True),
        sa.Column("route_attempt", sa.Integer, primary_key=True),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("live_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("live_spend", sa.Numeric(12, 2), nullable=False),
        sa.Column("live_shipments", sa.Integer, nullable=False),
        sa.Column("live_backordered_units", sa.Integer, nullable=False),
        sa.Column("live_promise_met", sa.Boolean, nullable=False),
        sa.Column("live_nodes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_routing_inputs_created", "routing_inputs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_routing_inputs_created", table_name="routing_inputs")
    op.drop_table("routing_inputs")
    op.drop_index("ix_shadow_plans_created", table_name="shadow_plans")
    op.drop_table("shadow_plans")
    op.drop_table("shadow_policies")
