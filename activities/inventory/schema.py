"""The DOM database: network, inventory positions, reservations and the append-only movement ledger.

ATP = on_hand - reserved - safety_stock. Every change to on_hand or reserved writes a movement row
that says why, so the ledger can always explain a position.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("state", sa.String(8), nullable=False, server_default=""),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
)

skus = sa.Table(
    "skus",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("weight_lb", sa.Float, nullable=False),
    sa.Column("price", sa.Numeric(12, 2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
    sa.Column("tags", sa.JSON, nullable=False),
)

inventory_positions = sa.Table(
    "inventory_positions",
    metadata,
    sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), primary_key=True),
    sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("safety_stock", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # as_of of the newest snapshot applied to this position (0003); an older one is ignored.
    sa.Column("last_snapshot_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("on_hand >= 0", name="ck_position_on_hand_nonneg"),
    sa.CheckConstraint("reserved >= 0", name="ck_position_reserved_nonneg"),
    sa.CheckConstraint("reserved <= on_hand", name="ck_position_reserved_le_on_hand"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(120), nullable=False),
    sa.Column("route_attempt", sa.Integer, nullable=False),
    sa.Column("shipment_id", sa.String(200), nullable=False),
    sa.Column("line_id", sa.String(64), nullable=False),
    sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), nullable=False),
    sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # reserved | released | consumed
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("qty > 0", name="ck_reservation_qty_pos"),
    sa.CheckConstraint(
        "status IN ('reserved', 'released', 'consumed')", name="ck_reservation_status"
    ),
    sa.Index("ix_reservations_order", "order_id", "status"),
)

# One row per (order, routing attempt): a retried reserve-and-route returns this instead of
# reserving twice.
routing_plans = sa.Table(
    "routing_plans",
    metadata,
    sa.Column("order_id", sa.String(120), primary_key=True),
    sa.Column("route_attempt", sa.Integer, primary_key=True),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

movements = sa.Table(
    "movements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    # receipt | adjustment | snapshot | reserve | release | consume | restock | unplanned-outbound
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("on_hand_delta", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reserved_delta", sa.Integer, nullable=False, server_default="0"),
    sa.Column("order_id", sa.String(120), nullable=True),
    sa.Column("reservation_id", sa.Integer, nullable=True),
    sa.Column("reference", sa.String(200), nullable=True),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.Index("ix_movements_node_sku", "node_id", "sku"),
)

# Keys of one-shot effects (inventory receipts, partner feeds, partial releases): the insert
# fails on a second delivery, so the effect is applied exactly once.
applied_keys = sa.Table(
    "applied_keys",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Returns (RMAs). One header row per RMA and one row per (RMA, order line, delivered shipment):
# the units of a line that may come back are the units delivered, so Σ open + received per
# (order, line, shipment) <= delivered -- checked by a conditional insert under a per-order lock.
returns = sa.Table(
    "returns",
    metadata,
    sa.Column("rma_id", sa.String(160), primary_key=True),
    sa.Column("order_id", sa.String(120), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    # opened | received | expired | closed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("exchange", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("order_id", "seq", name="uq_returns_order_seq"),
)

return_lines = sa.Table(
    "return_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rma_id", sa.String(160), sa.ForeignKey("returns.rma_id"), nullable=False),
    sa.Column("order_id", sa.String(120), nullable=False),
    sa.Column("line_id", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("shipment_id", sa.String(200), nullable=False),
    sa.Column("capture_id", sa.String(200), nullable=True),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # opened | received | expired
    sa.Column("received_qty", sa.Integer, nullable=False, server_default="0"),
    sa.Column("resell", sa.Integer, nullable=False, server_default="0"),
    sa.Column("refurbish", sa.Integer, nullable=False, server_default="0"),
    sa.Column("scrap", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("qty > 0", name="ck_return_line_qty_pos"),
    sa.CheckConstraint(
        "received_qty >= 0 AND received_qty <= qty", name="ck_return_line_received_le_qty"
    ),
    sa.CheckConstraint(
        "resell + refurbish + scrap = received_qty", name="ck_return_line_grades_sum"
    ),
    sa.CheckConstraint("status IN ('opened', 'received', 'expired')", name="ck_return_line_status"),
    sa.Index("ix_return_lines_order_line", "order_id", "line_id", "shipment_id"),
    sa.Index("ix_return_lines_rma", "rma_id"),
)

# One row per closed order (0003): written in the transaction that releases every reservation the
# order still held, so a closed order holds nothing in `reserved`. `result` is the answer a retry
# of the close returns.
order_closures = sa.Table(
    "order_closures",
    metadata,
    sa.Column("order_id", sa.String(120), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("released_units", sa.Integer, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
)

# Things a person must look at (0003), e.g. a node shipped units of a cancelled request.
escalations = sa.Table(
    "escalations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("order_id", sa.String(120), nullable=True),
    sa.Column("shipment_id", sa.String(200), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message", sa.String(2000), nullable=False),
    sa.Index("ix_escalations_order", "order_id"),
)

# API keys (0004): `Authorization: Bearer dom_<id>_<secret>`. Only sha256(secret) is stored; the
# key itself is shown once, when it is created (`dom apikey create`). `scopes` is a JSON list of
# orders:write | orders:read | ops; `channel` binds the key to one sales channel's orders.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_api_keys_name", "name"),
)
