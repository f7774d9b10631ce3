"""The DOM's domain metrics, in the process-wide prometheus_client registry.

Conventions (https://prometheus.io/docs/practices/naming/): the `dom_` prefix, `_total`
counters (prometheus_client adds the suffix), `_seconds` histograms in base units, and only
low-cardinality labels -- channel, status, node, partner, reason, stage, outcome -- never an
order, shipment or customer id. Free text from partners (a rejection reason) is folded into a
short fixed vocabulary first (`reason_of`).

Updates are lock-free from the caller's side (prometheus_client keeps one small lock per
child series), so they cost a few microseconds on any request or activity path."""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram, disable_created_metrics

# One `_created` timestamp series per counter and histogram doubles what is scraped and says
# nothing Prometheus does not already know from the process start.
disable_created_metrics()

# Money is exported as a float in the network's currency unit (a label says which).
COST_BUCKETS = (1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 200.0, 500.0)
# Routing plans in milliseconds usually, seconds when the database is contended.
ROUTING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Partner calls: a fast simulator answers in milliseconds, a slow partner times out at 10 s.
PARTNER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SHIPMENT_BUCKETS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)

ORDERS_RECEIVED = Counter(
    "dom_orders_received",
    "New orders accepted for processing (their workflow started), by sales channel.",
    ["channel"],
)
ORDERS_CLOSED = Counter(
    "dom_orders_closed",
    "Orders closed (the books settled), by final status and sales channel.",
    ["status", "channel"],
)
ROUTING_DURATION = Histogram(
    "dom_routing_duration_seconds",
    "Time to plan and reserve one routing attempt (reserve_and_route), by outcome.",
    ["outcome"],
    buckets=ROUTING_BUCKETS,
)
ORDER_SHIPMENTS = Histogram(
    "dom_order_shipments",
    "Shipments in an order's first routing plan (its split; 1 = no split).",
    buckets=SHIPMENT_BUCKETS,
)
ORDER_FULFILMENT_COST = Histogram(
    "dom_order_fulfilment_cost",
    "Shipping plus handling cost of an order's first routing plan, in `currency` units.",
    ["currency"],
    buckets=COST_BUCKETS,
)
SHIPMENTS_PLANNED = Counter(
    "dom_shipments_planned",
    "Shipments planned by routing (re-routes included), by node.",
    ["node"],
)
BACKORDERS = Counter(
    "dom_backorders",
    "Routing attempts that left units backordered.",
)
BACKORDERED_UNITS = Counter(
    "dom_backordered_units",
    "Units a routing attempt could not place anywhere (backordered).",
)
REJECTIONS = Counter(
    "dom_shipment_rejections",
    "Fulfilment requests a node rejected (after taking them, or refused outright), by node "
    "and reason.",
    ["node", "reason"],
)
SLA_BREACHES = Counter(
    "dom_sla_breaches",
    "Fulfilment requests cancelled at their node for missing an SLA, by node and stage.",
    ["node", "stage"],
)
PARTNER_CALL_DURATION = Histogram(
    "dom_partner_call_duration_seconds",
    "One HTTP call to a partner API (each in-activity retry counts), by partner and outcome.",
    ["partner", "outcome"],
    buckets=PARTNER_BUCKETS,
)
PARTNER_CALL_ERRORS = Counter(
    "dom_partner_call_errors",
    "Partner calls that failed or answered a retryable status, by partner and reason.",
    ["partner", "reason"],
)
WEBHOOK_REFUSALS = Counter(
    "dom_webhook_refusals",
    "Signed webhooks the API refused, by source (partner id or shopify) and reason.",
    ["source", "reason"],
)

# Rejection reasons are partner free text: folded into these, or "other".
_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stock", re.compile(r"stock|inventory|discrepanc|short|count", re.I)),
    ("capacity", re.compile(r"capacity|wave|busy|cut-?off|overload", re.I)),
    ("damaged", re.compile(r"damag|broken|defect", re.I)),
    ("address", re.compile(r"address|undeliverable|zip", re.I)),
)


def reason_of(text: str | None) -> str:
    """A rejection's free-text reason as one of a few label values."""
    if not text:
        return "unspecified"
    for name, pattern in _REASONS:
        if pattern.search(text):
            return name
    return "other"


def node_of_shipment(shipment_id: str) -> str:
    """Shipment ids are `<order_id>:<routing attempt>:<node>`."""
    return shipment_id.rsplit(":", 1)[-1] if shipment_id.count(":") >= 2 else "unknown"
