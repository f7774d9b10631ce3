"""The deltas of a candidate policy against the live plans, summed per policy and currency.

Shared by `dom shadow report` (rows recorded live) and `dom whatif` (orders replayed offline):
both hand in one Comparison per order. Deltas are shadow minus live: a negative cost delta is a
saving, a negative split delta fewer split orders. "cost" is each router's objective under its own
policy (split and backorder penalties, rule adjustments included); "spend" is shipping + handling,
what is paid, comparable across policies whose penalties differ."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.shadow.compare import Outcome

CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Comparison:
    order_id: str
    policy: str
    currency: str
    live: Outcome
    shadow: Outcome | str  # str: why the candidate could not plan the order


class NodeLoad(BaseModel):
    node: str
    live_orders: int
    shadow_orders: int
    delta: int


class PolicyDeltas(BaseModel):
    policy: str
    currency: str
    orders: int  # orders both plans exist for (the deltas cover these)
    unplanned: int  # orders the candidate could not plan
    live_cost: Decimal
    shadow_cost: Decimal
    cost_delta: Decimal
    cost_delta_per_order: Decimal
    live_spend: Decimal  # shipping + handling: what is paid, whatever the policy's penalties
    shadow_spend: Decimal
    spend_delta: Decimal
    spend_delta_per_order: Decimal
    live_split_orders: int
    shadow_split_orders: int
    split_delta: int
    live_shipments: int
    shadow_shipments: int
    live_promise_met: int
    shadow_promise_met: int
    promise_met_delta: int
    moved_orders: int  # orders the candidate ships from a different set of nodes
    moved: list[str]  # their ids (the first MOVED_LISTED)
    node_load: list[NodeLoad]


class DeltaReport(BaseModel):
    since: datetime | None = None
    policies: list[PolicyDeltas]


MOVED_LISTED = 50


def summarise(comparisons: Iterable[Comparison]) -> list[PolicyDeltas]:
    groups: dict[tuple[str, str], list[Comparison]] = {}
    for c in comparisons:
        groups.setdefault((c.policy, c.currency), []).append(c)
    return [_deltas(policy, currency, rows) for (policy, currency), rows in sorted(groups.items())]


def _deltas(policy: str, currency: str, rows: list[Comparison]) -> PolicyDeltas:
    pairs = [(c.order_id, c.live, c.shadow) for c in rows if not isinstance(c.shadow, str)]
    load: dict[str, list[int]] = {}
    live_cost = shadow_cost = live_spend = shadow_spend = Decimal(0)
    live_split = shadow_split = live_ship = shadow_ship = live_met = shadow_met = 0
    moved: list[str] = []
    for order_id, live, shadow in pairs:
        assert not isinstance(shadow, str)
        live_cost += live.cost
        shadow_cost += shadow.cost
        live_spend += live.spend
        shadow_spend += shadow.spend
        live_split += live.shipments > 1
        shadow_split += shadow.shipments > 1
        live_ship += live.shipments
        shadow_ship += shadow.shipments
        live_met += live.promise_met
        shadow_met += shadow.promise_met
        if set(live.nodes) != set(shadow.nodes):
            moved.append(order_id)
        for node in set(live.nodes):
            load.setdefault(node, [0, 0])[0] += 1
        for node in set(shadow.nodes):
            load.setdefault(node, [0, 0])[1] += 1
    delta = shadow_cost - live_cost
    spent = shadow_spend - live_spend
    return PolicyDeltas(
        policy=policy,
        currency=currency,
        orders=len(pairs),
        unplanned=len(rows) - len(pairs),
        live_cost=live_cost,
        shadow_cost=shadow_cost,
        cost_delta=delta,
        cost_delta_per_order=(delta / len(pairs)).quantize(CENTS) if pairs else Decimal(0),
        live_spend=live_spend,
        shadow_spend=shadow_spend,
        spend_delta=spent,
        spend_delta_per_order=(spent / len(pairs)).quantize(CENTS) if pairs else Decimal(0),
        live_split_orders=live_split,
        shadow_split_orders=shadow_split,
        split_delta=shadow_split - live_split,
        live_shipments=live_ship,
        shadow_shipments=shadow_ship,
        live_promise_met=live_met,
        shadow_promise_met=shadow_met,
        promise_met_delta=shadow_met - live_met,
        moved_orders=len(moved),
        moved=sorted(moved)[:MOVED_LISTED],
        node_load=[
            NodeLoad(node=n, live_orders=lv, shadow_orders=sh, delta=sh - lv)
            for n, (lv, sh) in sorted(load.items())
            if lv != sh
        ],
    )


def _outcome(row: sa.RowMapping, side: str) -> Outcome:
    return Outcome(
        cost=Decimal(row[f"{side}_cost"]),
        spend=Decimal(row[f"{side}_spend"]),
        shipments=row[f"{side}_shipments"],
        backordered_units=row[f"{side}_backordered_units"],
        promise_met=bool(row[f"{side}_promise_met"]),
        nodes=tuple(row[f"{side}_nodes"]),
    )


async def recorded(
    engine: AsyncEngine, since: datetime | None = None, policy: str | None = None
) -> list[Comparison]:
    """The shadow plans recorded since `since` (all by default), of one policy or all."""
    t = schema.shadow_plans
    query = sa.select(t).order_by(t.c.created_at, t.c.order_id, t.c.route_attempt)
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if policy is not None:
        query = query.where(t.c.policy == policy)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        Comparison(
            # A re-route is another decision: name it apart from the first.
            order_id=r["order_id"] + (f"#{n}" if (n := r["route_attempt"]) > 1 else ""),
            policy=r["policy"],
            currency=r["currency"],
            live=_outcome(r, "live"),
            shadow=r["shadow_error"] if r["shadow_error"] is not None else _outcome(r, "shadow"),
        )
        for r in rows
    ]


async def shadow_report(
    engine: AsyncEngine, since: datetime | None = None, policy: str | None = None
) -> DeltaReport:
    return DeltaReport(since=since, policies=summarise(await recorded(engine, since, policy)))
