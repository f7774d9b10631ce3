"""The DOM database: network, inventory positions, reservations and the append-only movement ledger.

ATP = on_hand - reserved - held - safety_stock (`held`: units in shopping carts, 0005). Every change to on_hand or reserved writes a movement row
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
    # Units held for shopping carts (0005): out of ATP, not yet any order's reservation.
    sa.Column("held", sa.Integer, nullable=False, server_default="0"),
    # as_of of the newest snapshot applied to this position (0003); an older one is ignored.
    sa.Column("last_snapshot_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("on_hand >= 0", name="ck_position_on_hand_nonneg"),
    sa.CheckConstraint("reserved >= 0", name="ck_position_reserved_nonneg"),
    sa.CheckConstraint("reserved <= on_hand", name="ck_position_reserved_le_on_hand"),
    sa.CheckConstraint("held >= 0", name="ck_position_held_nonneg"),
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


# ---------------------------------------------------------------------------- promising (0005)

# A shopping cart's hold: units taken out of ATP (inventory_positions.held) until the hold
# expires, is released, or becomes an order's reservation (exactly once: status 'converted').
cart_holds = sa.Table(
    "cart_holds",
    metadata,
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
    sa.Index("ix_cart_holds_status_expires", "status", "expires_at"),
)

cart_hold_lines = sa.Table(
    "cart_hold_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cart_id", sa.String(120), sa.ForeignKey("cart_holds.cart_id"), nullable=False),
    sa.Column("line_id", sa.String(64), nullable=False),
    sa.Column("node_id", sa.String(64), sa.ForeignKey("nodes.id"), nullable=False),
    sa.Column("sku", sa.String(64), sa.ForeignKey("skus.sku"), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.CheckConstraint("qty > 0", name="ck_cart_hold_line_qty_pos"),
    sa.Index("ix_cart_hold_lines_cart", "cart_id"),
)

# Live node settings, seeded from the network config and changed by ops without a restart:
# the calendar a promise is dated with, and the daily capacity routing may fill.
node_settings = sa.Table(
    "node_settings",
    metadata,
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

# Days nobody ships: node_id NULL = the whole network and the carriers.
holidays = sa.Table(
    "holidays",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("node_id", sa.String(64), nullable=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.UniqueConstraint("day", "node_id", name="uq_holidays_day_node"),
)

# What routing assigned to a node on one of its local days; the conditional increment is the cap.
node_capacity_usage = sa.Table(
    "node_capacity_usage",
    metadata,
    sa.Column("node_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # the node's local date, YYYY-MM-DD
    sa.Column("orders", sa.Integer, nullable=False, server_default="0"),
    sa.Column("units", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("orders >= 0 AND units >= 0", name="ck_capacity_usage_nonneg"),
)

# One claim per shipment, so a cancel or re-route gives back exactly what it took.
capacity_claims = sa.Table(
    "capacity_claims",
    metadata,
    sa.Column("shipment_id", sa.String(200), primary_key=True),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("units >= 0", name="ck_capacity_claim_units_nonneg"),
)

# Stock on its way: purchase orders and transfers expected at a node.
inbound_supply = sa.Table(
    "inbound_supply",
    metadata,
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
    sa.Index("ix_inbound_sku_status", "sku", "status"),
)

# Backordered order lines pre-sold against inbound supply, first come first served.
inbound_allocations = sa.Table(
    "inbound_allocations",
    metadata,
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
    sa.Index("ix_inbound_allocations_inbound", "inbound_id", "status"),
    sa.Index("ix_inbound_allocations_order", "order_id"),
)

# Per SKU: a version bumped by every change to its positions (the promise cache's key) and the
# network-wide ATP last published, so the change feed records a change only when ATP moved.
sku_availability = sa.Table(
    "sku_availability",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("atp", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# The availability change feed (GET /v1/availability/changes, the outbound webhook). `id` is
# taken at insert, but transactions commit in another order than they insert, so a reader paging
# by `id` could pass a row that commits later with a lower one. `seq`, the position readers page
# by, is given to committed rows only, one sequencer at a time (availability.sequence): a later
# commit always gets a higher seq.
availability_changes = sa.Table(
    "availability_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seq", sa.Integer, nullable=True),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("atp", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cause", sa.String(32), nullable=False, server_default=""),
    sa.Index("uq_availability_changes_seq", "seq", unique=True),
)

# Where each outbound consumer of the feed is: acked_seq was delivered; pending_seq, when set, is
# the end of the batch being delivered (resent as it was, same idempotency key, after a restart).
# The lease keeps two API processes from publishing the same consumer at once.
feed_cursors = sa.Table(
    "feed_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("acked_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pending_seq", sa.Integer, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# ---- insight (migration 0006): decisions, outcomes, money per order ----

# One row per shipment the router planned (0006), written with its reservation and moved on by
# the order as the node answers: what the KPIs and the alerts read. Timestamps are when it
# happened (the partner's event time), deadlines are the node's SLA from the request.
shipment_outcomes = sa.Table(
    "shipment_outcomes",
    metadata,
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
    sa.Column("skus", sa.JSON, nullable=False),  # {"sku": units}
    # What routing priced this shipment at (the fulfilment cost it adds to its order).
    sa.Column("shipping_cost", sa.Numeric(12, 2), nullable=False, server_default="0"),
    sa.Column("handling_cost", sa.Numeric(12, 2), nullable=False, server_default="0"),
    sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ship_by", sa.DateTime(timezone=True), nullable=True),  # accept + ship SLA
    sa.Column("deliver_by", sa.DateTime(timezone=True), nullable=True),  # the promise
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "status IN ('requested', 'accepted', 'rejected', 'shipped', 'delivered', 'cancelled')",
        name="ck_shipment_outcome_status",
    ),
    sa.Index("ix_shipment_outcomes_order", "order_id"),
    sa.Index("ix_shipment_outcomes_node_requested", "node", "requested_at"),
    sa.Index("ix_shipment_outcomes_status", "status"),
)

# One row per routing decision (order, attempt): what the chosen plan costs, part by part, and
# what every other strategy would have cost on the same stock ("distance" is the baseline the
# savings KPI is measured against). Written in the transaction that reserves the plan.
routing_decisions = sa.Table(
    "routing_decisions",
    metadata,
    sa.Column("order_id", sa.String(120), primary_key=True),
    sa.Column("route_attempt", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("shipments", sa.Integer, nullable=False),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("backordered_units", sa.Integer, nullable=False),
    sa.Column("nodes", sa.JSON, nullable=False),  # ["wh-dallas", ...]
    sa.Column("total_cost", sa.Numeric(12, 2), nullable=False),  # the router's objective
    sa.Column("shipping_cost", sa.Numeric(12, 2), nullable=False),
    sa.Column("handling_cost", sa.Numeric(12, 2), nullable=False),
    sa.Column("split_penalty", sa.Numeric(12, 2), nullable=False),
    sa.Column("backorder_penalty", sa.Numeric(12, 2), nullable=False),
    sa.Column("rule_adjustments", sa.Numeric(12, 2), nullable=False),
    sa.Column("baseline_cost", sa.Numeric(12, 2), nullable=True),  # the distance strategy's
    # [{"strategy", "total_cost" (string), "shipments", "nodes", "backordered_units"}]
    sa.Column("alternatives", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_routing_decisions_created", "created_at"),
)

# Money and fate per order: revenue as sold, what cancelled units were worth, refunds given
# back; opened by the first routing decision, closed with the order's books. Net sales =
# revenue - cancelled_value - refunds.
order_finance = sa.Table(
    "order_finance",
    metadata,
    sa.Column("order_id", sa.String(120), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("revenue", sa.Numeric(12, 2), nullable=False),
    # What the cancelled units were sold for: never charged, so not revenue.
    sa.Column("cancelled_value", sa.Numeric(12, 2), nullable=False, server_default="0"),
    sa.Column("refunds", sa.Numeric(12, 2), nullable=False, server_default="0"),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("skus", sa.JSON, nullable=False),  # {"sku": units ordered}
    sa.Column("cancelled_units", sa.Integer, nullable=False, server_default="0"),
    # open | completed | cancelled | failed | ... (the order's final status once closed)
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_order_finance_received", "received_at"),
)


# ---- alerts (migration 0007) ----

# Alert rules are data: one row per rule, its kind's parameters validated by
# dom_workflows.alerts.rules; an edit takes effect at the next evaluation, no restart.
alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("spec", sa.JSON, nullable=False),  # the whole validated rule
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False, server_default=""),
)

# Every alert ever raised (history kept). `open_key` is the alert's key while it is open and NULL
# once resolved: its unique index lets one alert per key be open, and NULLs never collide.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False),  # rule id + ":" + subject
    sa.Column("open_key", sa.String(300), nullable=True),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | resolved
    sa.Column("summary", sa.String(500), nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolution", sa.String(200), nullable=False, server_default=""),
    # Evaluations in a row that found the condition clear; resolved at the rule's clear_after.
    sa.Column("clean_evaluations", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.CheckConstraint("status IN ('open', 'resolved')", name="ck_alert_status"),
    sa.Index("uq_alerts_open_key", "open_key", unique=True),
    sa.Index("ix_alerts_status_opened", "status", "opened_at"),
)

# The webhook outbox: one row per open/resolve transition, written in the transition's own
# transaction and sent (same body, same Idempotency-Key) until the receiver answers 2xx.
alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),  # opened | resolved
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered')", name="ck_alert_delivery_status"),
    sa.Index("uq_alert_deliveries_key", "idempotency_key", unique=True),
    sa.Index("ix_alert_deliveries_status", "status"),
)

# What each node's inventory feed last did (POST /v1/partners/{p}/inventory): the feed alerts
# read it to tell a failing feed (refused N times in a row) from a silent one (no good feed lately).
feed_status = sa.Table(
    "feed_status",
    metadata,
    sa.Column("node_id", sa.String(64), primary_key=True),
    sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


# ---- reconciliation (migration 0008) ----

# One row per reconciliation run (the daily Schedule's, or `dom reconcile`): what it compared and
# what it found, repaired and escalated.
reconcile_runs = sa.Table(
    "reconcile_runs",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # the workflow id, or cli-<uuid>
    sa.Column("trigger", sa.String(32), nullable=False),  # schedule | cli
    sa.Column("since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("findings", sa.Integer, nullable=False, server_default="0"),
    sa.Column("repaired", sa.Integer, nullable=False, server_default="0"),
    sa.Column("escalated", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_reconcile_runs_started", "started_at"),
)

# Every divergence a run found, with its evidence and what was done: `repaired` (a safe,
# idempotent repair), `escalated` (left to ops) or `not-repaired` (dry run). `key` names the
# divergence (kind + subject); (run_id, key) is unique, so a retried run records each once.
reconcile_findings = sa.Table(
    "reconcile_findings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(200), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),  # a shipment, capture, label... id
    sa.Column("order_id", sa.String(120), nullable=True),
    sa.Column("summary", sa.String(500), nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("action_detail", sa.String(500), nullable=False, server_default=""),
    sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "action IN ('repaired', 'escalated', 'not-repaired')", name="ck_reconcile_action"
    ),
    sa.Index("uq_reconcile_findings_run_key", "run_id", "key", unique=True),
    sa.Index("ix_reconcile_findings_key", "key"),
)

# ---- partner events (migration 0009) ----

# Every partner event the API accepted (signature and body checked, shipment known), written
# before the API answers 2xx, so none is lost when Temporal cannot take it at that moment.
# (partner_id, event_id) is unique: a repeat is a duplicate. `status`: pending (not yet signalled
# to its order; the worker retries it), delivered (the order's workflow took the signal),
# order-closed (its order had ended: kept for ops and reconciliation), recorded-after-close (a
# shipped event for a shipment the DOM had cancelled: units booked out, escalated).
partner_events = sa.Table(
    "partner_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("partner_id", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("order_id", sa.String(120), nullable=False),
    sa.Column("shipment_id", sa.String(200), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),  # the partner's, e.g. shipment.shipped
    sa.Column("signal", sa.JSON, nullable=False),  # the ShipmentEvent the order is sent
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
    sa.Index("uq_partner_events_partner_event", "partner_id", "event_id", unique=True),
    sa.Index("ix_partner_events_status_next", "status", "next_attempt_at"),
    sa.Index("ix_partner_events_order", "order_id"),
)

# ---- network versions (migration 0010) ----

# Every version of the network (nodes, SLAs, capacities, calendars) with its routing policy,
# node lifecycle and rollout scopes (dom_workflows.network_versions.document). Append-only: a
# rollback is a new version equal to an old one, so the active version is the newest.
network_versions = sa.Table(
    "network_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("document", sa.JSON, nullable=False),
    # The version that introduced this version's routing policy (policy, rule scopes and
    # variants): unchanged by a version that only changes nodes.
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("comment", sa.String(500), nullable=False, server_default=""),
    sa.Column("rollback_of", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# What each routing decision used: the network version, the policy version (with the variant's
# name when a scoped policy applied, "7:candidate") and the scopes the order fell into.
routing_decisions.append_column(sa.Column("network_version", sa.Integer, nullable=True))
routing_decisions.append_column(sa.Column("policy_version", sa.String(80), nullable=True))
routing_decisions.append_column(sa.Column("scopes", sa.JSON, nullable=True))


# ---- shadow planning (migration 0011) ----

# Candidate routing policies that run in shadow (docs/shadow.md): every live routing attempt
# also plans under each active one, with no effect on the ledger. `policy`: the document, as
# validated by the routing Policy model when it was added.
shadow_policies = sa.Table(
    "shadow_policies",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Per routing attempt and shadow policy: the live plan against the shadow plan on the same
# inputs. Written in the transaction that reserves the live plan (insert-or-ignore: a retry
# adds nothing). `shadow_error`: why the shadow policy could not plan the order (its columns
# then repeat nothing and are null). `*_cost`: the router's objective under that side's policy
# (penalties included); `*_spend`: shipping + handling, what would be paid.
shadow_plans = sa.Table(
    "shadow_plans",
    metadata,
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
    sa.Column("live_nodes", sa.JSON, nullable=False),  # ["wh-dallas", ...]
    sa.Column("shadow_nodes", sa.JSON, nullable=True),
    sa.Column("shadow_error", sa.String(300), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_shadow_plans_created", "created_at"),
)

# What one routing attempt saw, compact, for `dom whatif`: the router's order, the stock of its
# SKUs before its own reservation ([node, sku, on_hand, reserved + held, safety_stock]) and the
# live node fields (capacity), with the live plan's outcome in the shadow report's terms.
routing_inputs = sa.Table(
    "routing_inputs",
    metadata,
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
    sa.Index("ix_routing_inputs_created", "created_at"),
)
