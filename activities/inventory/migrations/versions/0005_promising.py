"""Promising: cart holds, live node settings and capacity, inbound supply, availability feed.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("inventory_positions") as batch:
        batch.add_column(sa.Column("held", sa.Integer, nullable=False, server_default="0"))
        batch.create_check_constraint("ck_position_held_nonneg", "held >= 0")

    op.create_table(
        "cart_holds",
        sa.Column("cart_id", sa.String(120), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        # active | released | expired | converted
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=True),
        sa.Column("destination", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'released', 'expired', 'converted')", name="ck_cart_hold_status"
        ),
    )
    op.create_index("ix_cart_holds_status_expires", "cart_holds", ["status", "expires_at"])
    op.create_table(
        "cart_hold_lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cart_id", sa.String(120), sa.ForeignKey("cart_holds.cart_id"), nullable=False),
        sa.Column("line_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.CheckConstraint("qty > 0", name="ck_cart_hold_line_qty_pos"),
    )
    op.create_index("ix_cart_hold_lines_cart", "cart_hold_lines", ["cart_id"])
    op.create_table(
        "node_settings",
        sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("cutoff", sa.String(5), nullable=False),  # local HH:MM of the carrier pick-up
        sa.Column("handling_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("working_days", sa.JSON, nullable=False),  # ["mon", ..., "fri"]
        sa.Column("capacity_limit", sa.Integer, nullable=True),  # None = unlimited
        sa.Column("capacity_unit", sa.String(8), nullable=False, server_default="orders"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False, server_default=""),
        sa.CheckConstraint("capacity_unit IN ('orders', 'units')", name="ck_node_capacity_unit"),
        sa.CheckConstraint("handling_days >= 0", name="ck_node_handling_days_nonneg"),
    )
    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("node_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.UniqueConstraint("day", "node_id", name="uq_holidays_day_node"),
    )
    op.create_table(
        "node_capacity_usage",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),  # the node's local date, YYYY-MM-DD
        sa.Column("orders", sa.Integer, nullable=False, server_default="0"),
        sa.Column("units", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("orders >= 0 AND units >= 0", name="ck_capacity_usage_nonneg"),
    )
    op.create_table(
        "capacity_claims",
        sa.Column("shipment_id", sa.String(200), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("units >= 0", name="ck_capacity_claim_units_nonneg"),
    )
    op.create_table(
        "inbound_supply",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # po | transfer
        sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("allocated", sa.Integer, nullable=False, server_default="0"),
        # Units that arrived (partial receipts); qty - received is still on its way.
        sa.Column("received", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        # open | received | cancelled
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("qty > 0", name="ck_inbound_qty_pos"),
        sa.CheckConstraint(
            "allocated >= 0 AND received >= 0 AND allocated + received <= qty",
            name="ck_inbound_allocated",
        ),
        sa.CheckConstraint("status IN ('open', 'received', 'cancelled')", name="ck_inbound_status"),
    )
    op.create_index("ix_inbound_sku_status", "inbound_supply", ["sku", "status"])
    op.create_table(
        "inbound_allocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("inbound_id", sa.String(120), sa.ForeignKey("inbound_supply.id"), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("line_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        # allocated | reserved | released
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("qty > 0", name="ck_inbound_allocation_qty_pos"),
    )
    op.create_index(
        "ix_inbound_allocations_inbound", "inbound_allocations", ["inbound_id", "status"]
    )
    op.create_index("ix_inbound_allocations_order", "inbound_allocations", ["order_id"])
    op.create_table(
        "sku_availability",
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("atp", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Every SKU starts with its current network ATP, so the first change is measured from it.
    op.execute(
        """
        INSERT INTO sku_availability (sku, version, atp, updated_at)
        SELECT s.sku, 0,
               COALESCE(SUM(CASE WHEN p.on_hand - p.reserved - p.held - p.safety_stock > 0
                                 THEN p.on_hand - p.reserved - p.held - p.safety_stock
                                 ELSE 0 END), 0),
               CURRENT_TIMESTAMP
        FROM skus s LEFT JOIN inventory_positions p ON p.sku = s.sku
        GROUP BY s.sku
        """
    )
    op.create_table(
        "availability_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.Integer, nullable=True),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("atp", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False, server_default=""),
    )
    op.create_index("uq_availability_changes_seq", "availability_changes", ["seq"], unique=True)
    op.create_table(
        "feed_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("acked_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pending_seq", sa.Integer, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
    op.drop_index("uq_availability_changes_seq", table_name="availability_changes")
    op.drop_table("availability_changes")
    op.drop_table("sku_availability")
    op.drop_table("inbound_allocations")
    op.drop_table("inbound_supply")
    op.drop_table("capacity_claims")
    op.drop_table("node_capacity_usage")
    op.drop_table("holidays")
    op.drop_table("node_settings")
    op.drop_table("cart_hold_lines")
    op.drop_table("cart_holds")
    with op.batch_alter_table("inventory_positions") as batch:
        batch.drop_constraint("ck_position_held_nonneg", type_="check")
        batch.drop_column("held")
