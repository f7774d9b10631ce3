"""The fulfilment KPIs, computed once for `dom kpis`, `GET /v1/kpis` and `dom report --html`.

The window selects orders by when they were received; their shipments, routing decisions and
returns come with them. Groups: an order belongs to every group it touches (each node it was
sent to, each SKU it holds, its channel, its day); shipment KPIs of a node or a SKU count that
node's or SKU's shipments only. Money is summed per currency, so each row has one.

Definitions (docs/kpis.md):
- split rate: orders sent from more than one node (rejected and cancelled requests not counted)
- cost per order: routing's shipping + handling of those shipments, over orders
- on-time ship: shipped by ship_by (accept + ship SLA), over shipped or breached shipments
- on-time delivery: delivered by deliver_by (the promise), over delivered shipments
- rejection rate: rejected shipments over requested shipments
- SLA breaches: shipped late, cancelled for a breach, or still open past ship_by
- backorder / cancellation / return rate: orders with backordered units / fully cancelled /
  with a return, over orders
- gross margin after fulfilment cost: net sales (revenue - cancelled - refunds) - cost
- routing savings: the distance baseline's cost minus the chosen plan's, over every decision
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.insight.records import aware
from activities.inventory import schema
from dom_workflows.money import CENTS, Money

GroupBy = Literal["node", "channel", "day", "sku"]
GROUPS: tuple[str, ...] = ("node", "channel", "day", "sku")
EFFECTIVE = ("requested", "accepted", "shipped", "delivered")  # shipments that cost money
OPEN = ("requested", "accepted")


@dataclass
class ShipmentFact:
    node: str
    status: str
    cost: Decimal
    skus: set[str]
    shipped_at: datetime | None
    delivered_at: datetime | None
    ship_by: datetime | None
    deliver_by: datetime | None
    breached: bool


@dataclass
class OrderFact:
    order_id: str
    channel: str
    currency: str
    day: str
    status: str
    net_sales: Decimal
    skus: set[str]
    shipments: list[ShipmentFact] = field(default_factory=list)
    backordered: bool = False
    returned: bool = False
    baseline: Decimal = Decimal(0)
    chosen: Decimal = Decimal(0)  # cost of the decisions that have a baseline


class KpiRow(BaseModel):
    """One group's KPIs; ratios are fractions (0.25 = 25 %), None when nothing to divide by."""

    group: str
    currency: str
    orders: int
    shipments: int
    split_rate: float | None
    shipments_per_order: float | None
    fulfilment_cost: Money
    cost_per_order: Money | None
    on_time_ship: float | None
    on_time_delivery: float | None
    rejection_rate: float | None
    sla_breaches: int
    backorder_rate: float | None
    cancellation_rate: float | None
    return_rate: float | None
    net_sales: Money
    gross_margin: Money
    gross_margin_rate: float | None
    routing_savings: Money
    routing_savings_rate: float | None


class KpiReport(BaseModel):
    since: datetime
    until: datetime
    by: str | None
    rows: list[KpiRow]
    total: list[KpiRow]  # one row per currency, every group together


async def load(engine: AsyncEngine, since: datetime, until: datetime) -> list[OrderFact]:
    """The facts of every order received in [since, until): 4 queries."""
    fin, out, dec = schema.order_finance, schema.shipment_outcomes, schema.routing_decisions
    window = sa.and_(fin.c.received_at >= since, fin.c.received_at < until)
    ids = sa.select(fin.c.order_id).where(window)
    async with engine.connect() as conn:
        orders = (await conn.execute(sa.select(fin).where(window))).mappings().all()
        ships = (await conn.execute(sa.select(out).where(out.c.order_id.in_(ids)))).mappings().all()
        decisions = (
            await conn.execute(
                sa.select(
                    dec.c.order_id, dec.c.backordered_units, dec.c.total_cost, dec.c.baseline_cost
                ).where(dec.c.order_id.in_(ids))
            )
        ).all()
        returned = set(
            (
                await conn.execute(
                    sa.select(schema.return_lines.c.order_id)
                    .where(schema.return_lines.c.order_id.in_(ids))
                    .distinct()
                )
            ).scalars()
        )
    return facts(orders, ships, decisions, returned)


def facts(
    orders: Iterable[Any], ships: Iterable[Any], decisions: Iterable[Any], returned: set[str]
) -> list[OrderFact]:
    by_id: dict[str, OrderFact] = {}
    for o in orders:
        received = aware(o["received_at"])
        assert received is not None
        by_id[o["order_id"]] = OrderFact(
            order_id=o["order_id"],
            channel=o["channel"],
            currency=o["currency"],
            day=received.date().isoformat(),
            status=o["status"],
            net_sales=Decimal(o["revenue"]) - Decimal(o["cancelled_value"]) - Decimal(o["refunds"]),
            skus=set(o["skus"] or {}),
            returned=o["order_id"] in returned,
        )
    for s in ships:
        if (fact := by_id.get(s["order_id"])) is None:
            continue
        fact.shipments.append(
            ShipmentFact(
                node=s["node"],
                status=s["status"],
                cost=Decimal(s["shipping_cost"]) + Decimal(s["handling_cost"]),
                skus=set(s["skus"] or {}),
                shipped_at=aware(s["shipped_at"]),
                delivered_at=aware(s["delivered_at"]),
                ship_by=aware(s["ship_by"]),
                deliver_by=aware(s["deliver_by"]),
                breached=bool(s["breached"]),
            )
        )
    for order_id, backordered_units, total_cost, baseline_cost in decisions:
        if (fact := by_id.get(order_id)) is None:
            continue
        fact.backordered = fact.backordered or backordered_units > 0
        if baseline_cost is not None:
            fact.baseline += Decimal(baseline_cost)
            fact.chosen += Decimal(total_cost)
    return list(by_id.values())


def _groups(fact: OrderFact, by: str | None) -> dict[str, list[ShipmentFact]]:
    """Each group the order belongs to, with the shipments that count there."""
    if by is None:
        return {"all": fact.shipments}
    if by == "channel":
        return {fact.channel: fact.shipments}
    if by == "day":
        return {fact.day: fact.shipments}
    if by == "node":
        nodes = sorted({s.node for s in fact.shipments})
        return {n: [s for s in fact.shipments if s.node == n] for n in nodes}
    if by == "sku":
        return {k: [s for s in fact.shipments if k in s.skus] for k in sorted(fact.skus)}
    raise ValueError(f"--by {by!r}: choose one of {', '.join(GROUPS)}")


def _ratio(num: int | Decimal, den: int | Decimal) -> float | None:
    return round(float(Decimal(num) / Decimal(den)), 4) if den else None


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount.quantize(CENTS), currency=currency)


@dataclass
class _Acc:
    orders: int = 0
    split: int = 0
    shipments: int = 0  # effective: not rejected, not cancelled
    requested: int = 0
    rejected: int = 0
    cost: Decimal = Decimal(0)
    ship_due: int = 0
    ship_on_time: int = 0
    delivered: int = 0
    delivered_on_time: int = 0
    breaches: int = 0
    backordered: int = 0
    cancelled: int = 0
    returned: int = 0
    net_sales: Decimal = Decimal(0)
    baseline: Decimal = Decimal(0)
    chosen: Decimal = Decimal(0)

    def add(self, fact: OrderFact, ships: list[ShipmentFact], now: datetime) -> None:
        self.orders += 1
        effective_all = [s for s in fact.shipments if s.status in EFFECTIVE]
        self.split += len({s.node for s in effective_all}) > 1
        self.backordered += fact.backordered
        self.cancelled += fact.status == "cancelled"
        self.returned += fact.returned
        self.net_sales += fact.net_sales
        self.baseline += fact.baseline
        self.chosen += fact.chosen
        for s in ships:
            self.requested += 1
            self.rejected += s.status == "rejected"
            if s.status in EFFECTIVE:
                self.shipments += 1
                self.cost += s.cost
            overdue = s.status in OPEN and s.ship_by is not None and s.ship_by < now
            breach = s.breached or overdue
            self.breaches += breach
            if s.shipped_at is not None:
                self.ship_due += 1
                self.ship_on_time += s.ship_by is None or s.shipped_at <= s.ship_by
            elif s.breached:
                self.ship_due += 1  # cancelled at its node for not shipping in time
            if s.delivered_at is not None:
                self.delivered += 1
                self.delivered_on_time += s.deliver_by is None or s.delivered_at <= s.deliver_by

    def row(self, group: str, currency: str) -> KpiRow:
        margin = self.net_sales - self.cost
        savings = self.baseline - self.chosen
        return KpiRow(
            group=group,
            currency=currency,
            orders=self.orders,
            shipments=self.shipments,
            split_rate=_ratio(self.split, self.orders),
            shipments_per_order=_ratio(self.shipments, self.orders),
            fulfilment_cost=_money(self.cost, currency),
            cost_per_order=_money(self.cost / self.orders, currency) if self.orders else None,
            on_time_ship=_ratio(self.ship_on_time, self.ship_due),
            on_time_delivery=_ratio(self.delivered_on_time, self.delivered),
            rejection_rate=_ratio(self.rejected, self.requested),
            sla_breaches=self.breaches,
            backorder_rate=_ratio(self.backordered, self.orders),
            cancellation_rate=_ratio(self.cancelled, self.orders),
            return_rate=_ratio(self.returned, self.orders),
            net_sales=_money(self.net_sales, currency),
            gross_margin=_money(margin, currency),
            gross_margin_rate=_ratio(margin, self.net_sales),
            routing_savings=_money(savings, currency),
            routing_savings_rate=_ratio(savings, self.baseline),
        )


def compute(facts: Iterable[OrderFact], by: str | None, now: datetime) -> list[KpiRow]:
    """One row per (group, currency), groups in order."""
    accs: dict[tuple[str, str], _Acc] = {}
    for fact in facts:
        for group, ships in _groups(fact, by).items():
            accs.setdefault((group, fact.currency), _Acc()).add(fact, ships, now)
    return [accs[key].row(*key) for key in sorted(accs)]


async def report(
    engine: AsyncEngine, since: datetime, until: datetime, by: str | None
) -> KpiReport:
    if by is not None and by not in GROUPS:
        raise ValueError(f"--by {by!r}: choose one of {', '.join(GROUPS)}")
    all_facts = await load(engine, since, until)
    return KpiReport(
        since=since,
        until=until,
        by=by,
        rows=compute(all_facts, by, until),
        total=compute(all_facts, None, until),
    )
