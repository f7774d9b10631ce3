"""Initial ledger: nodes, SKUs, positions, reservations, routing plans, movements, applied keys.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default=""),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
    )
    op.create_table(
        "skus",
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("weight_lb", sa.Float, nullable=False),
        sa.Column("price", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column("tags", sa.JSON, nullable=False),
    )
    op.create_table(
        "inventory_positions",
        sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), primary_key=True),
        sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
        sa.Column("safety_stock", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_position_on_hand_nonneg"),
        sa.CheckConstraint("reserved >= 0", name="ck_position_reserved_nonneg"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_position_reserved_le_on_hand"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("route_attempt", sa.Integer, nullable=False),
        sa.Column("shipment_id", sa.String(200), nullable=False),
        sa.Column("line_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("qty > 0", name="ck_reservation_qty_pos"),
        sa.CheckConstraint(
            "status IN ('reserved', 'released', 'consumed')", name="ck_reservation_status"
        ),
    )
    op.create_index("ix_reservations_order", "reservations", ["order_id", "status"])
    op.create_table(
        "routing_plans",
        sa.Column("order_id", sa.String(120), primary_key=True),
        sa.Column("route_attempt", sa.Integer, primary_key=True),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "movements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("on_hand_delta", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved_delta", sa.Integer, nullable=False, server_default="0"),
        sa.Column("order_id", sa.String(120), nullable=True),
        sa.Column("reservation_id", sa.Integer, nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_movements_node_sku", "movements", ["node_id", "sku"])
    op.create_table(
        "applied_keys",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "applied_keys",
        "movements",
        "routing_plans",
        "reservations",
        "inventory_positions",
        "skus",
        "nodes",
    ):
        op.drop_table(table)
