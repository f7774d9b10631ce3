"""A small insight history whose every KPI is known (tests/insight/test_kpis.py works them out),
for the KPI, API and CLI tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from dom_workflows.money import Money

D1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
D2 = D1 + timedelta(days=1)
SINCE, UNTIL = D1 - timedelta(hours=1), D1 + timedelta(days=5)


def order(order_id: str, channel: str, at: datetime, revenue: str, status: str, **kw: Any) -> Any:
    return schema.order_finance.insert().values(
        order_id=order_id,
        channel=channel,
        currency="USD",
        revenue=Decimal(revenue),
        units=1,
        skus=kw.pop("skus", {"BOOT-HIKE-9": 1}),
        status=status,
        received_at=at,
        updated_at=at,
        **kw,
    )


def shipment(
    sid: str, order_id: str, node: str, status: str, cost: str, at: datetime, **kw: Any
) -> Any:
    return schema.shipment_outcomes.insert().values(
        shipment_id=sid,
        order_id=order_id,
        route_attempt=kw.pop("attempt", 1),
        node=node,
        channel="web",
        status=status,
        units=1,
        skus=kw.pop("skus", {"BOOT-HIKE-9": 1}),
        shipping_cost=Decimal(cost),
        handling_cost=Decimal("1.00"),
        currency="USD",
        requested_at=at,
        ship_by=at + timedelta(days=1),
        deliver_by=at + timedelta(days=4),
        updated_at=at,
        **kw,
    )


def decision(
    order_id: str, attempt: int, total: str, baseline: str | None, backordered: int = 0
) -> Any:
    zero = Decimal(0)
    return schema.routing_decisions.insert().values(
        order_id=order_id,
        route_attempt=attempt,
        channel="web",
        currency="USD",
        strategy="optimal",
        shipments=1,
        units=1,
        backordered_units=backordered,
        nodes=[],
        total_cost=Decimal(total),
        shipping_cost=zero,
        handling_cost=zero,
        split_penalty=zero,
        backorder_penalty=zero,
        rule_adjustments=zero,
        baseline_cost=Decimal(baseline) if baseline is not None else None,
        alternatives=[],
        created_at=D1,
    )


async def known_history(engine: AsyncEngine) -> None:
    day = timedelta(days=1)
    async with engine.begin() as conn:
        for stmt in (
            # A: one parcel, on time all the way.
            order("A", "web", D1, "100.00", "completed"),
            shipment("A1", "A", "wh-dallas", "delivered", "11.00", D1,
                     shipped_at=D1 + timedelta(hours=5), delivered_at=D1 + 2 * day),
            decision("A", 1, "12.00", "15.00"),
            # B: a store rejected; two warehouses shipped it (split), one late; a return.
            order("B", "web", D1, "200.00", "completed"),
            shipment("B1", "B", "wh-reno", "delivered", "9.00", D1, breached=True,
                     shipped_at=D1 + 2 * day, delivered_at=D1 + 6 * day),
            shipment("B2", "B", "store-x", "rejected", "4.00", D1, reject_reason="no stock"),
            shipment("B3", "B", "wh-columbus", "delivered", "9.00", D1, attempt=2,
                     shipped_at=D1 + timedelta(hours=3), delivered_at=D1 + 3 * day),
            decision("B", 1, "20.00", "20.00"),
            decision("B", 2, "10.00", "14.00"),
            # C: backordered, then cancelled whole: no sales, no cost.
            order("C", "marketplace", D2, "50.00", "cancelled", cancelled_value=Decimal("50.00"),
                  cancelled_units=1, skus={"TENT-2P": 1}),
            shipment("C1", "C", "wh-dallas", "cancelled", "6.00", D2, skus={"TENT-2P": 1}),
            decision("C", 1, "7.00", None, backordered=1),
            # D: open, its request past ship_by: a breach in progress.
            order("D", "marketplace", D2, "80.00", "open"),
            shipment("D1", "D", "wh-dallas", "requested", "6.00", D2),
            decision("D", 1, "7.00", "7.00"),
            # E: before the window.
            order("E", "web", SINCE - day, "999.00", "completed"),
            shipment("E1", "E", "wh-dallas", "delivered", "99.00", SINCE - day),
            schema.returns.insert().values(
                rma_id="RMA-B-1", order_id="B", seq=1, status="opened", created_at=D2, updated_at=D2
            ),
            schema.return_lines.insert().values(
                rma_id="RMA-B-1", order_id="B", line_id="1", sku="BOOT-HIKE-9", shipment_id="B1",
                qty=1, status="opened", created_at=D2, updated_at=D2,
            ),
        ):  # fmt: skip
            await conn.execute(stmt)


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")
