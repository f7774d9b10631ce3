"""Decision and outcome records: written when routing decides and as each shipment moves, once
per decision and per shipment however often an activity is retried, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.insight import records
from activities.insight.records import aware
from activities.inventory import schema
from activities.inventory.activities import InventoryActivities
from dom_workflows.config import Settings
from dom_workflows.insight.models import OrderClosing, ShipmentOutcome
from dom_workflows.inventory.models import (
    OrderToRoute,
    ReserveAndRouteInput,
    SourcingLine,
    ValidatedOrder,
)
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.order.models import OrderStatus
from dom_workflows.routing import load_policy
from tests.support.harness import OrderHarness, make_order

T0 = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday


def route_input(order_id: str, lines: list[tuple[str, int]]) -> ReserveAndRouteInput:
    order = make_order(lines, order_id=order_id)
    return ReserveAndRouteInput(
        order=OrderToRoute.of(order),
        destination=ValidatedOrder(
            ship_to_lat=40.7484,
            ship_to_lon=-73.9967,
            ship_to_state="NY",
            ship_to_zip="10118",
            order_value=Money(amount=Decimal(50 * sum(q for _, q in lines))),
        ),
        attempt=1,
        lines=[
            SourcingLine(line_id=str(i + 1), sku=sku, qty=qty, unit_price=Decimal("50.00"))
            for i, (sku, qty) in enumerate(lines)
        ],
        weekday="wed",
        requested_at=T0,
    )


def inventory(engine: AsyncEngine, network: Network) -> InventoryActivities:
    return InventoryActivities(engine, network, load_policy(Settings().policy_path))


async def rows(engine: AsyncEngine, table: sa.Table, order_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        found = await conn.execute(sa.select(table).where(table.c.order_id == order_id))
        return [dict(r) for r in found.mappings()]


async def test_routing_writes_the_decision_its_shipments_and_the_orders_money(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    inp = route_input("INS-1", [("BOOT-HIKE-9", 1), ("SOCK-WOOL-3PK", 2)])
    result = await inventory(ledger_engine, network).reserve_and_route(inp)

    [decision] = await rows(ledger_engine, schema.routing_decisions, "INS-1")
    plan = result.plan
    assert decision["strategy"] == "optimal" and decision["channel"] == "web"
    assert decision["total_cost"] == Decimal(plan["total_cost"])
    assert decision["shipping_cost"] == Decimal(plan["cost_breakdown"]["shipping"])
    assert decision["handling_cost"] == Decimal(plan["cost_breakdown"]["handling"])
    distance = next(a for a in plan["explanation"]["alternatives"] if a["strategy"] == "distance")
    assert decision["baseline_cost"] == Decimal(distance["total_cost"])
    assert {a["strategy"] for a in decision["alternatives"]} == {
        "priority",
        "distance",
        "shopify",
        "fewest-splits",
    }
    assert decision["nodes"] == [f.node for f in result.fulfillments]
    assert decision["shipments"] == len(result.fulfillments) and decision["units"] == 3

    shipments = await rows(ledger_engine, schema.shipment_outcomes, "INS-1")
    assert sorted(s["shipment_id"] for s in shipments) == sorted(
        f.shipment_id for f in result.fulfillments
    )
    for s in shipments:
        f = next(f for f in result.fulfillments if f.shipment_id == s["shipment_id"])
        assert s["status"] == "requested" and s["node"] == f.node and s["channel"] == "web"
        assert s["shipping_cost"] == f.shipping_cost and s["handling_cost"] == f.handling_cost
        assert aware(s["requested_at"]) == T0
        assert aware(s["ship_by"]) == T0 + f.sla.accept_within + f.sla.ship_within
        assert f.transit_days is not None
        assert aware(s["deliver_by"]) == aware(s["ship_by"]) + timedelta(days=f.transit_days)
        assert s["units"] == sum(ln.qty for ln in f.lines)

    [money] = await rows(ledger_engine, schema.order_finance, "INS-1")
    assert money["revenue"] == Decimal("150.00") and money["currency"] == "USD"
    assert money["status"] == "open" and money["skus"] == {"BOOT-HIKE-9": 1, "SOCK-WOOL-3PK": 2}
    assert aware(money["received_at"]) == T0


async def test_a_retried_write_leaves_one_row_each(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    acts = inventory(ledger_engine, network)
    inp = route_input("INS-2", [("BOOT-HIKE-9", 1)])
    result = await acts.reserve_and_route(inp)
    assert await acts.reserve_and_route(inp) == result  # the activity retried
    # And the writes themselves, repeated as a retry after a lost commit acknowledgement would:
    async with ledger_engine.connect() as conn:
        plan = await acts.plan_for(conn, inp, T0, alternatives=True)
    for _ in range(2):
        async with ledger_engine.begin() as conn:
            await records.record_decision(conn, inp, result, plan, "USD", T0)
    assert len(await rows(ledger_engine, schema.routing_decisions, "INS-2")) == 1
    assert len(await rows(ledger_engine, schema.shipment_outcomes, "INS-2")) == len(
        result.fulfillments
    )
    assert len(await rows(ledger_engine, schema.order_finance, "INS-2")) == 1


async def test_an_outcome_only_moves_forward_and_keeps_the_first_times(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    result = await inventory(ledger_engine, network).reserve_and_route(
        route_input("INS-3", [("BOOT-HIKE-9", 1)])
    )
    sid = result.fulfillments[0].shipment_id
    shipped = T0 + timedelta(hours=5)
    delivered = T0 + timedelta(days=2)

    async def apply(outcome: ShipmentOutcome) -> bool:
        async with ledger_engine.begin() as conn:
            return await records.apply_outcome(conn, outcome, T0)

    assert await apply(ShipmentOutcome(shipment_id=sid, status="accepted", accepted_at=T0))
    assert await apply(ShipmentOutcome(shipment_id=sid, status="shipped", shipped_at=shipped))
    assert not await apply(ShipmentOutcome(shipment_id=sid, status="shipped", shipped_at=shipped))
    assert await apply(ShipmentOutcome(shipment_id=sid, status="delivered", delivered_at=delivered))
    # A late, older report changes nothing: no step back, no time rewritten.
    late = ShipmentOutcome(
        shipment_id=sid, status="accepted", accepted_at=T0 + timedelta(hours=1), shipped_at=T0
    )
    assert not await apply(late)
    [row] = await rows(ledger_engine, schema.shipment_outcomes, "INS-3")
    assert row["status"] == "delivered"
    assert aware(row["accepted_at"]) == T0
    assert aware(row["shipped_at"]) == shipped
    assert aware(row["delivered_at"]) == delivered
    assert row["breached"] is False  # shipped 5 h after the request, SLA 4 h + 2 days
    unknown = ShipmentOutcome(shipment_id="nobody:1:x", status="shipped", shipped_at=T0)
    assert not await apply(unknown)


async def test_shipping_after_ship_by_is_a_breach(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    result = await inventory(ledger_engine, network).reserve_and_route(
        route_input("INS-4", [("BOOT-HIKE-9", 1)])
    )
    f = result.fulfillments[0]
    late = T0 + f.sla.accept_within + f.sla.ship_within + timedelta(minutes=1)
    async with ledger_engine.begin() as conn:
        await records.apply_outcome(
            conn, ShipmentOutcome(shipment_id=f.shipment_id, status="shipped", shipped_at=late), T0
        )
    [row] = await rows(ledger_engine, schema.shipment_outcomes, "INS-4")
    assert row["breached"] is True and row["status"] == "shipped"


async def test_closing_sets_the_orders_money_once(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    result = await inventory(ledger_engine, network).reserve_and_route(
        route_input("INS-5", [("BOOT-HIKE-9", 2)])
    )
    closing = OrderClosing(
        status="cancelled",
        closed_at=T0 + timedelta(hours=1),
        cancelled_units=2,
        cancelled_value=Decimal("100.00"),
        refunds=Decimal("0"),
        shipments=[
            ShipmentOutcome(
                shipment_id=f.shipment_id,
                status="cancelled",
                reason="customer request",
                cancelled_at=T0 + timedelta(hours=1),
            )
            for f in result.fulfillments
        ],
    )
    for _ in range(2):  # retried: set, never added
        async with ledger_engine.begin() as conn:
            await records.close_order(conn, "INS-5", closing, T0)
    [money] = await rows(ledger_engine, schema.order_finance, "INS-5")
    assert money["status"] == "cancelled" and money["cancelled_units"] == 2
    assert money["cancelled_value"] == Decimal("100.00")
    assert aware(money["closed_at"]) == T0 + timedelta(hours=1)
    for s in await rows(ledger_engine, schema.shipment_outcomes, "INS-5"):
        assert s["status"] == "cancelled" and s["reject_reason"] == "customer request"


async def test_the_order_workflow_records_each_shipment_as_it_moves(
    harness: OrderHarness,
) -> None:
    order = make_order([("BOOT-HIKE-9", 1)])
    handle = await harness.start(order)
    state = await harness.instructed(handle)
    first = state.shipments[0]
    await harness.event(handle, first.shipment_id, "rejected", reason="shelf empty")
    state = await harness.until(handle, lambda s: len(s.routes) == 2, "a second route")
    [rejected] = [
        r
        for r in await rows(harness.engine, schema.shipment_outcomes, order.order_id)
        if r["shipment_id"] == first.shipment_id
    ]
    assert rejected["status"] == "rejected" and rejected["reject_reason"] == "shelf empty"
    assert rejected["rejected_at"] is not None

    state = await harness.instructed(handle, 2)
    second = state.shipments[1]
    shipped_at = datetime.now(UTC).replace(microsecond=0)
    await harness.event(handle, second.shipment_id, "accepted")
    await harness.event(handle, second.shipment_id, "shipped", occurred_at=shipped_at)
    await harness.until(
        handle,
        lambda s: any(e.kind == "consumed" for e in s.timeline),
        "the shipped units consumed",
    )
    [moving] = [
        r
        for r in await rows(harness.engine, schema.shipment_outcomes, order.order_id)
        if r["shipment_id"] == second.shipment_id
    ]
    assert moving["status"] == "shipped" and aware(moving["shipped_at"]) == shipped_at
    assert moving["accepted_at"] is not None

    await harness.event(handle, second.shipment_id, "delivered")
    result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    [delivered] = [
        r
        for r in await rows(harness.engine, schema.shipment_outcomes, order.order_id)
        if r["shipment_id"] == second.shipment_id
    ]
    assert delivered["status"] == "delivered" and delivered["delivered_at"] is not None
    decisions = await rows(harness.engine, schema.routing_decisions, order.order_id)
    assert sorted(d["route_attempt"] for d in decisions) == [1, 2]
    [money] = await rows(harness.engine, schema.order_finance, order.order_id)
    assert money["status"] == "completed" and money["closed_at"] is not None
    assert money["revenue"] == Decimal("50.00")
