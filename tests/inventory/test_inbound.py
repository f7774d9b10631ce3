"""Inbound supply on SQLite and PostgreSQL: pre-orders against purchase orders first come first
served and never beyond what is coming, arrivals that turn them into reservations exactly once,
late and cancelled inbound, and routing that adopts the arrived units."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import inbound, ledger, preorders, schema
from activities.inventory.verify import verify
from dom_workflows.inventory.inbound import (
    AllocateBackorders,
    BackorderLine,
    InboundRequest,
    prereservation_shipment_id,
)

SKU = "KAYAK-SEAT"  # nobody stocks it: every unit ordered is backordered
DAY = datetime(2031, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
async def engine(ledger_engine: AsyncEngine) -> AsyncEngine:
    async with ledger_engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=SKU, name="Kayak seat", weight_lb=2.0, price=Decimal("60"), tags=[]
            )
        )
    return ledger_engine


async def po(
    engine: AsyncEngine, id_: str, qty: int, days: int = 10, node: str = "wh-dallas"
) -> None:
    change, created = await inbound.upsert(
        engine,
        InboundRequest(id=id_, node=node, sku=SKU, qty=qty, expected_at=DAY + timedelta(days)),
    )
    assert created and change.applied


async def backorder(engine: AsyncEngine, order_id: str, qty: int, line: str = "1") -> list:
    return await preorders.allocate_backorders(
        engine,
        AllocateBackorders(
            order_id=order_id, lines=[BackorderLine(line_id=line, sku=SKU, backordered=qty)]
        ),
    )


async def allocations(engine: AsyncEngine) -> list[tuple[str, str, int, str]]:
    a = schema.inbound_allocations
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(a.c.inbound_id, a.c.order_id, a.c.qty, a.c.status).order_by(a.c.id)
        )
        return [tuple(r) for r in rows]


async def position(engine: AsyncEngine, node: str = "wh-dallas") -> ledger.Position | None:
    async with engine.connect() as conn:
        return next((p for p in await ledger.read_positions(conn, [SKU]) if p.node == node), None)


async def movements(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (
            await conn.execute(sa.select(sa.func.count()).where(schema.movements.c.sku == SKU))
        ).scalar_one()


# ----------------------------------------------------------------------------- create


async def test_an_inbound_is_created_once_and_refused_for_unknown_nodes_and_skus(
    engine: AsyncEngine,
) -> None:
    req = InboundRequest(id="PO-1", node="wh-dallas", sku=SKU, qty=5, expected_at=DAY)
    change, created = await inbound.upsert(engine, req)
    assert created and change.inbound.available == 5 and change.inbound.status == "open"
    again, created = await inbound.upsert(engine, req)
    assert not created and not again.applied  # the same request twice changes nothing
    later, _ = await inbound.upsert(engine, req.model_copy(update={"qty": 7}))
    assert later.applied and later.inbound.qty == 7

    with pytest.raises(inbound.InboundRefused) as e:
        await inbound.upsert(engine, req.model_copy(update={"id": "PO-2", "node": "nowhere"}))
    assert e.value.kind == "unknown-node"
    with pytest.raises(inbound.InboundRefused) as e:
        await inbound.upsert(engine, req.model_copy(update={"id": "PO-2", "sku": "NOPE"}))
    assert e.value.kind == "unknown-sku"
    with pytest.raises(inbound.InboundRefused) as e:  # a PO cannot move to another node
        await inbound.upsert(engine, req.model_copy(update={"node": "wh-reno"}))
    assert e.value.status == 409
    assert [i.id for i in await inbound.list_inbound(engine, sku=SKU)] == ["PO-1"]


# ----------------------------------------------------------------------------- allocation


async def test_backorders_take_the_earliest_inbound_first_and_show_its_date(
    engine: AsyncEngine,
) -> None:
    await po(engine, "PO-LATE", 10, days=20)
    await po(engine, "PO-EARLY", 3, days=5)
    shown = await backorder(engine, "O-1", 5)
    assert [(p.inbound, p.qty, p.expected_at) for p in shown] == [
        ("PO-EARLY", 3, DAY + timedelta(5)),
        ("PO-LATE", 2, DAY + timedelta(20)),
    ]
    # Converges: the same call again allocates nothing more.
    assert await backorder(engine, "O-1", 5) == shown
    assert sum(q for _, _, q, s in await allocations(engine) if s == "allocated") == 5
    # More units than is coming: the rest waits without a date.
    shown = await backorder(engine, "O-2", 10)
    assert [(p.inbound, p.qty) for p in shown] == [("PO-LATE", 8), (None, 2)]
    # The line waits for fewer units (cancelled): the latest pre-orders are given back first.
    shown = await backorder(engine, "O-1", 3)
    assert [(p.inbound, p.qty) for p in shown] == [("PO-EARLY", 3)]
    late = await inbound.get_inbound(engine, "PO-LATE")
    assert late.allocated == 8 and late.available == 2


async def test_concurrent_backorders_never_preorder_more_than_is_coming(
    engine: AsyncEngine,
) -> None:
    await po(engine, "PO-1", 7)
    results = await asyncio.gather(*(backorder(engine, f"O-{i}", 2) for i in range(8)))
    dated = sum(p.qty for shown in results for p in shown if p.inbound == "PO-1")
    assert dated == 7  # all of it, never more
    rows = await allocations(engine)
    assert sum(q for _, _, q, _ in rows) == 7
    assert (await inbound.get_inbound(engine, "PO-1")).allocated == 7
    # Every order either got all its units dated, or what was left.
    assert sorted(sum(p.qty for p in s if p.inbound) for s in results).count(2) == 3


# ----------------------------------------------------------------------------- arrival


async def test_the_arrival_turns_preorders_into_reservations_exactly_once(
    engine: AsyncEngine,
) -> None:
    await po(engine, "PO-1", 5)
    await backorder(engine, "O-1", 2)
    await backorder(engine, "O-2", 2)

    change = await inbound.receive(engine, "PO-1")
    assert change.applied and change.inbound.status == "received"
    assert change.reserved_units == 4 and change.unallocated_received == 1
    assert change.orders == ["O-1", "O-2"]  # first come first
    after = await position(engine)
    assert after is not None and (after.on_hand, after.reserved, after.atp) == (5, 4, 1)
    for order in ("O-1", "O-2"):
        [r] = await ledger.reservations_of(engine, order)
        assert (r["node_id"], r["qty"], r["status"]) == ("wh-dallas", 2, "reserved")
        assert r["shipment_id"] == prereservation_shipment_id(order, "PO-1")
    assert {s for *_, s in await allocations(engine)} == {"reserved"}
    count = await movements(engine)

    repeat = await inbound.receive(engine, "PO-1")
    assert not repeat.applied and repeat.orders == ["O-1", "O-2"]  # still wakes them
    assert await position(engine) == after
    assert await movements(engine) == count
    assert len(await ledger.reservations_of(engine, "O-1")) == 1
    assert await verify(engine) == []  # positions still explained by reservations and movements
    # The order shows the units as arrived.
    [shown] = await backorder(engine, "O-1", 2)
    assert shown.arrived and shown.inbound == "PO-1" and shown.qty == 2


async def test_a_partial_arrival_serves_the_oldest_preorders_first(engine: AsyncEngine) -> None:
    await po(engine, "PO-1", 6)
    await backorder(engine, "O-1", 3)
    await backorder(engine, "O-2", 3)
    first = await inbound.receive(engine, "PO-1", qty=4, reference="ASN-1")
    assert first.applied and first.reserved_units == 4 and first.inbound.status == "open"
    assert [r["qty"] for r in await ledger.reservations_of(engine, "O-1")] == [3]
    assert [r["qty"] for r in await ledger.reservations_of(engine, "O-2")] == [1]
    with pytest.raises(inbound.InboundRefused) as e:
        await inbound.receive(engine, "PO-1", qty=3, reference="ASN-2")  # only 2 still due
    assert e.value.kind == "too-many-units"
    rest = await inbound.receive(engine, "PO-1", reference="ASN-2")
    assert rest.reserved_units == 2 and rest.inbound.status == "received"
    assert sorted(r["qty"] for r in await ledger.reservations_of(engine, "O-2")) == [1, 2]


async def test_preorders_of_a_closed_order_are_not_reserved(engine: AsyncEngine) -> None:
    await po(engine, "PO-1", 2)
    await backorder(engine, "O-1", 2)
    async with engine.begin() as conn:
        await conn.execute(
            schema.order_closures.insert().values(
                order_id="O-1",
                status="cancelled",
                closed_at=DAY,
                released_units=0,
                result={},
            )
        )
    change = await inbound.receive(engine, "PO-1")
    assert change.reserved_units == 0 and change.unallocated_received == 2
    assert await ledger.reservations_of(engine, "O-1") == []
    p = await position(engine)
    assert p is not None and p.atp == 2


# ----------------------------------------------------------------------------- late, cancelled


async def test_a_late_inbound_moves_the_date_of_its_orders(engine: AsyncEngine) -> None:
    await po(engine, "PO-1", 5)
    await backorder(engine, "O-1", 2)
    change = await inbound.delay(engine, "PO-1", DAY + timedelta(days=30))
    assert change.applied and change.orders == ["O-1"]
    [shown] = await backorder(engine, "O-1", 2)
    assert shown.expected_at == DAY + timedelta(days=30)
    assert not (await inbound.delay(engine, "PO-1", DAY + timedelta(days=30))).applied


async def test_cancelling_an_inbound_moves_its_preorders_to_other_inbound_or_releases_them(
    engine: AsyncEngine,
) -> None:
    await po(engine, "PO-1", 4, days=5)
    await po(engine, "PO-2", 3, days=40, node="wh-reno")
    await backorder(engine, "O-1", 3)  # PO-1
    await backorder(engine, "O-2", 1)  # PO-1
    await backorder(engine, "O-3", 1)  # PO-2
    change = await inbound.cancel(engine, "PO-1")
    assert change.applied and change.inbound.status == "cancelled"
    assert change.orders == ["O-1", "O-2"]
    # First come: O-1 takes the 2 units PO-2 still has free; O-2 is left without a date.
    assert (change.reallocated_units, change.released_units) == (2, 2)
    assert [(p.inbound, p.qty) for p in await backorder(engine, "O-1", 3)] == [
        ("PO-2", 2),
        (None, 1),
    ]
    assert [(p.inbound, p.qty) for p in await backorder(engine, "O-2", 1)] == [(None, 1)]
    assert (await inbound.get_inbound(engine, "PO-2")).allocated == 3
    assert (await inbound.get_inbound(engine, "PO-1")).allocated == 0
    assert not (await inbound.cancel(engine, "PO-1")).applied  # a repeat changes nothing
    with pytest.raises(inbound.InboundRefused):
        await inbound.receive(engine, "PO-1")


# ----------------------------------------------------------------------------- views, routing


async def test_the_atp_view_shows_inbound_by_date(engine: AsyncEngine) -> None:
    await po(engine, "PO-2", 4, days=9, node="wh-reno")
    await po(engine, "PO-1", 5, days=3)
    await backorder(engine, "O-1", 2)
    view = await inbound.atp_view(engine, SKU)
    assert [(i.inbound, i.node, i.qty, i.available) for i in view.inbound] == [
        ("PO-1", "wh-dallas", 5, 3),
        ("PO-2", "wh-reno", 4, 4),
    ]
    async with engine.connect() as conn:
        dated = await inbound.inbound_by_date(conn, [SKU, "TREK-POLES"])
    assert [(d.inbound, d.expected_at, d.unallocated) for d in dated] == [
        ("PO-1", DAY + timedelta(3), 3),
        ("PO-2", DAY + timedelta(9), 4),
    ]


async def test_routing_adopts_the_arrived_units_and_gives_back_what_it_does_not_use(
    engine: AsyncEngine,
) -> None:
    await po(engine, "PO-1", 3)
    await backorder(engine, "O-1", 3)
    await inbound.receive(engine, "PO-1")
    async with engine.connect() as conn:
        own = await preorders.prereserved_units(conn, "O-1", {"1"})
        positions = await ledger.read_positions(conn, [SKU])
    assert own == {("wh-dallas", SKU): 3}
    [seen] = preorders.own_positions(positions, own)
    assert seen.atp == 3  # the order's own units are available to it, and to nobody else
    [p] = positions
    assert p.atp == 0

    shipment = "O-1:1:wh-dallas"
    async with engine.begin() as conn:
        rest = await preorders.adopt(
            conn, "O-1", 1, [ledger.Allocation(shipment, "wh-dallas", SKU, "1", 2)]
        )
        await ledger.reserve(conn, "O-1", 1, rest)
    assert rest == []
    rows = await ledger.reservations_of(engine, "O-1")
    assert sorted((r["shipment_id"], r["qty"], r["status"]) for r in rows) == [
        (shipment, 2, "reserved"),
        (prereservation_shipment_id("O-1", "PO-1"), 1, "released"),
    ]
    after = await position(engine)
    assert after is not None and (after.on_hand, after.reserved, after.atp) == (3, 2, 1)
    assert await verify(engine) == []


async def test_an_order_closing_gives_back_its_preorders(engine: AsyncEngine) -> None:
    await po(engine, "PO-1", 3)
    await backorder(engine, "O-1", 3)
    async with engine.begin() as conn:
        await preorders.release_order(conn, "O-1")
    assert (await inbound.get_inbound(engine, "PO-1")).available == 3
    assert {s for *_, s in await allocations(engine)} == {"released"}


async def test_a_receipt_racing_new_preorders_reserves_each_unit_once(engine: AsyncEngine) -> None:
    await po(engine, "PO-1", 10)
    await backorder(engine, "O-0", 2)
    jobs = [backorder(engine, f"O-{i}", 2) for i in range(1, 8)]
    jobs.insert(3, inbound.receive(engine, "PO-1", qty=6, reference="ASN-1"))
    await asyncio.gather(*jobs)
    a = schema.inbound_allocations
    async with engine.connect() as conn:
        rows = list(await conn.execute(sa.select(a.c.qty, a.c.status)))
        reserved = (
            await conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(schema.reservations.c.qty), 0)).where(
                    schema.reservations.c.sku == SKU,
                    schema.reservations.c.status == "reserved",
                )
            )
        ).scalar_one()
    got = await inbound.get_inbound(engine, "PO-1")
    still_allocated = sum(q for q, s in rows if s == "allocated")
    turned = sum(q for q, s in rows if s == "reserved")
    assert got.allocated == still_allocated  # the counter is exactly its rows
    assert turned == reserved <= 6  # every arrived pre-order is one reservation, no more
    assert got.received == 6 and got.allocated + got.received <= got.qty
    p = await position(engine)
    assert p is not None and p.on_hand == 6 and p.reserved == reserved
    assert await verify(engine) == []


async def test_verify_names_a_broken_preorder_counter_and_preorders_of_closed_orders(
    engine: AsyncEngine,
) -> None:
    await po(engine, "PO-1", 5)
    await backorder(engine, "O-1", 2)
    assert await verify(engine) == []
    async with engine.begin() as conn:  # break what only a bug could break
        await conn.execute(
            schema.inbound_supply.update()
            .where(schema.inbound_supply.c.id == "PO-1")
            .values(allocated=3)
        )
        await conn.execute(
            schema.order_closures.insert().values(
                order_id="O-1", status="cancelled", closed_at=DAY, released_units=0, result={}
            )
        )
    found = {(v.kind, v.sku) for v in await verify(engine)}
    assert found == {("inbound-allocated-mismatch", SKU), ("closed-order-preorders", SKU)}
