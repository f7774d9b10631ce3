"""A realistic, reproducible insight history for a network: for the report's screenshot, its
tests and `dom report --sample` (always into a database of its own, never the live one).

Each node has its own character (one 3PL ships late more often, stores reject more), volume
follows the week, and the routing decisions beat the distance baseline by a varying margin, so
every chart has something to show. Same seed, same history.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from dom_workflows.money import CENTS
from dom_workflows.network import Network

CHANNELS = (("web", 0.55), ("marketplace", 0.30), ("store", 0.15))
# Per node type: (weight as a source, rejection chance, late-ship chance)
CHARACTER = {
    "warehouse": (1.0, 0.02, 0.05),
    "3pl": (0.6, 0.04, 0.18),
    "store": (0.25, 0.15, 0.08),
    "dropship": (0.15, 0.06, 0.10),
}
WEEKDAY_VOLUME = (1.0, 0.95, 0.95, 1.0, 1.15, 1.3, 1.2)


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENTS)


def sample_rows(
    network: Network, end: datetime, *, days: int = 28, per_day: int = 40, seed: int = 11
) -> dict[str, list[dict[str, Any]]]:
    """Rows for order_finance, shipment_outcomes, routing_decisions, returns and return_lines."""
    rng = random.Random(seed)
    nodes = [n for n in network.nodes if n.type in CHARACTER]
    weights = [CHARACTER[n.type][0] for n in nodes]
    warehouses = [n for n in nodes if n.type == "warehouse"] or nodes
    out: dict[str, list[dict[str, Any]]] = {
        "order_finance": [],
        "shipment_outcomes": [],
        "routing_decisions": [],
        "returns": [],
        "return_lines": [],
    }
    start = end - timedelta(days=days)
    seq = 0
    for d in range(days):
        day = start + timedelta(days=d)
        volume = round(per_day * WEEKDAY_VOLUME[day.weekday()] * (0.9 + 0.2 * d / days))
        for _ in range(volume):
            seq += 1
            order_id = f"SAMPLE-{seq:06d}"
            at = day + timedelta(seconds=rng.randrange(86_400))
            if at >= end:
                continue
            channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            skus = {
                s.sku: rng.choice((1, 1, 1, 2))
                for s in rng.sample(network.skus, rng.choice((1, 1, 2, 3)))
            }
            price = {s.sku: s.price for s in network.skus}
            revenue = sum(((price[k] or Decimal(20)) * q for k, q in skus.items()), Decimal(0))
            split = len(skus) > 1 and rng.random() < 0.35
            backordered = rng.random() < 0.05
            cancelled = rng.random() < 0.04
            sources = rng.sample(nodes, 2) if split else rng.choices(nodes, weights)
            # The first decision places every source (attempt 1); a rejection re-routes its part
            # to a warehouse in a decision of its own (attempt 2, 3, ...).
            reroute, shipments, chosen_cost = 2, [], Decimal(0)
            sku_list = list(skus)
            for i, node in enumerate(sources):
                part = {k: skus[k] for k in sku_list[i :: len(sources)]} or dict(skus)
                attempt = 1
                if rng.random() < CHARACTER[node.type][1]:
                    shipments.append((node, part, "rejected", attempt))
                    attempt, reroute = reroute, reroute + 1
                    node = rng.choice(warehouses)
                shipments.append((node, part, "cancelled" if cancelled else "go", attempt))
            for node, part, fate, att in shipments:
                _, _, late_chance = CHARACTER[node.type]
                shipping = _money(rng.uniform(5.5, 14.0) + 0.8 * sum(part.values()))
                handling = node.handling.per_shipment + node.handling.per_unit * sum(part.values())
                if fate != "rejected":
                    chosen_cost += shipping + handling
                requested = at + timedelta(minutes=att * 7)
                ship_by = requested + timedelta(hours=4) + timedelta(days=2)
                row: dict[str, Any] = {
                    "shipment_id": f"{order_id}:{att}:{node.id}",
                    "order_id": order_id,
                    "route_attempt": att,
                    "node": node.id,
                    "node_type": node.type,
                    "channel": channel,
                    "service": "ground",
                    "status": fate,
                    "reject_reason": None,
                    "breached": False,
                    "units": sum(part.values()),
                    "skus": part,
                    "shipping_cost": shipping,
                    "handling_cost": handling,
                    "currency": "USD",
                    "requested_at": requested,
                    "accepted_at": None,
                    "rejected_at": None,
                    "shipped_at": None,
                    "delivered_at": None,
                    "cancelled_at": None,
                    "ship_by": ship_by,
                    "deliver_by": ship_by + timedelta(days=rng.choice((2, 3, 4))),
                    "updated_at": requested,
                }
                if fate == "rejected":
                    row["reject_reason"] = rng.choice(("no stock on shelf", "damaged", "capacity"))
                    row["rejected_at"] = requested + timedelta(hours=rng.uniform(0.2, 3))
                elif fate == "cancelled":
                    row["cancelled_at"] = requested + timedelta(hours=rng.uniform(0.5, 6))
                else:
                    row["accepted_at"] = requested + timedelta(hours=rng.uniform(0.1, 3))
                    is_late = rng.random() < late_chance
                    hours = rng.uniform(50, 80) if is_late else rng.uniform(3, 40)
                    shipped = requested + timedelta(hours=hours)
                    transit = (row["deliver_by"] - ship_by).days
                    delivered = shipped + timedelta(days=transit + rng.choice((-1, 0, 0, 0, 1)))
                    row["breached"] = shipped > ship_by
                    row["status"] = "shipped"
                    if shipped < end:
                        row["shipped_at"] = shipped
                        if delivered < end:
                            row["status"], row["delivered_at"] = "delivered", delivered
                    else:
                        row["status"] = "accepted"
                out["shipment_outcomes"].append(row)
            # Tracked per decision: the distance baseline costs up to a quarter more.
            total = chosen_cost.quantize(CENTS)
            out["routing_decisions"].append(
                {
                    "order_id": order_id,
                    "route_attempt": 1,
                    "channel": channel,
                    "currency": "USD",
                    "strategy": "optimal",
                    "shipments": len(sources),
                    "units": sum(skus.values()),
                    "backordered_units": 1 if backordered else 0,
                    "nodes": [n.id for n in sources],
                    "total_cost": total,
                    "shipping_cost": total,
                    "handling_cost": Decimal(0),
                    "split_penalty": Decimal(0),
                    "backorder_penalty": Decimal(0),
                    "rule_adjustments": Decimal(0),
                    "baseline_cost": (total * Decimal(str(1 + rng.uniform(0, 0.25)))).quantize(
                        CENTS
                    ),
                    "alternatives": [],
                    "created_at": at,
                }
            )
            delivered_rows = [r for r in out["shipment_outcomes"][-len(shipments) :]]
            closed = all(
                r["status"] in ("delivered", "rejected", "cancelled") for r in delivered_rows
            )
            out["order_finance"].append(
                {
                    "order_id": order_id,
                    "channel": channel,
                    "currency": "USD",
                    "revenue": revenue.quantize(CENTS),
                    "cancelled_value": revenue.quantize(CENTS) if cancelled else Decimal(0),
                    "refunds": Decimal(0),
                    "units": sum(skus.values()),
                    "skus": skus,
                    "cancelled_units": sum(skus.values()) if cancelled else 0,
                    "status": "cancelled" if cancelled else ("completed" if closed else "open"),
                    "received_at": at,
                    "closed_at": at + timedelta(days=4) if closed or cancelled else None,
                    "updated_at": at,
                }
            )
            done = [r for r in delivered_rows if r["status"] == "delivered"]
            if done and rng.random() < 0.07:
                r = done[0]
                rma = f"RMA-{order_id}-1"
                when = r["delivered_at"] + timedelta(days=2)
                out["returns"].append(
                    {"rma_id": rma, "order_id": order_id, "seq": 1, "status": "opened",
                     "exchange": False, "created_at": when, "updated_at": when}
                )  # fmt: skip
                sku, qty = next(iter(r["skus"].items()))
                out["return_lines"].append(
                    {"rma_id": rma, "order_id": order_id, "line_id": "1", "sku": sku,
                     "shipment_id": r["shipment_id"], "qty": qty, "status": "opened",
                     "created_at": when, "updated_at": when}
                )  # fmt: skip
    return out


async def seed_sample_history(
    engine: AsyncEngine, network: Network, end: datetime, **kw: Any
) -> int:
    """Write the sample history; returns the number of orders."""
    rows = sample_rows(network, end, **kw)
    async with engine.begin() as conn:
        for name in (
            "order_finance",
            "shipment_outcomes",
            "routing_decisions",
            "returns",
            "return_lines",
        ):
            if rows[name]:
                await conn.execute(schema.metadata.tables[name].insert(), rows[name])
    return len(rows["order_finance"])
