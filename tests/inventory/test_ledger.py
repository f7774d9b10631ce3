"""The ledger on SQLite and PostgreSQL: conditional reserves, keyed releases, consumption,
receipts, and a movement log that explains every position."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from dom_workflows.inventory.models import InventoryReceipt, ReleaseInput

SKU = "TREK-POLES"


async def position(engine: AsyncEngine, node: str, sku: str = SKU) -> ledger.Position:
    async with engine.connect() as conn:
        return next(p for p in await ledger.read_positions(conn, [sku]) if p.node == node)


async def reserve(engine: AsyncEngine, order: str, allocs: list[ledger.Allocation]) -> None:
    async with engine.begin() as conn:
        await ledger.reserve(conn, order, 1, allocs)


async def test_reserve_moves_atp_and_refuses_more_than_atp(ledger_engine: AsyncEngine) -> None:
    before = await position(ledger_engine, "wh-reno")
    await reserve(
        ledger_engine, "O-1", [ledger.Allocation("O-1:1:wh-reno", "wh-reno", SKU, "1", 3)]
    )
    after = await position(ledger_engine, "wh-reno")
    assert after.reserved == before.reserved + 3
    assert after.atp == before.atp - 3

    too_many = after.atp + 1
    with pytest.raises(ledger.InsufficientAtp, match="no longer has"):
        await reserve(
            ledger_engine,
            "O-2",
            [
                ledger.Allocation("O-2:1:wh-reno", "wh-reno", SKU, "1", 1),
                ledger.Allocation("O-2:1:wh-reno", "wh-reno", SKU, "2", too_many),
            ],
        )
    # All or nothing: the first allocation of the refused order was rolled back too.
    assert await position(ledger_engine, "wh-reno") == after
    assert await ledger.reservations_of(ledger_engine, "O-2") == []


async def test_safety_stock_is_never_reserved(ledger_engine: AsyncEngine) -> None:
    store = await position(ledger_engine, "store-nyc", "TEE-MERINO-M")
    assert store.safety_stock == 2
    with pytest.raises(ledger.InsufficientAtp):
        await reserve(
            ledger_engine,
            "O-3",
            [ledger.Allocation("s", "store-nyc", "TEE-MERINO-M", "1", store.on_hand - 1)],
        )


async def test_release_is_keyed_and_partial_release_splits(ledger_engine: AsyncEngine) -> None:
    await reserve(
        ledger_engine, "O-4", [ledger.Allocation("O-4:1:wh-reno", "wh-reno", SKU, "1", 5)]
    )
    reserved = (await position(ledger_engine, "wh-reno")).reserved
    partial = ReleaseInput(
        order_id="O-4", line_id="1", qty=2, reason="cancel 2", idempotency_key="k1"
    )
    first = await ledger.release(ledger_engine, partial)
    again = await ledger.release(ledger_engine, partial)
    assert first.released_units == 2
    assert again == first  # the retry returns the stored answer and releases nothing more
    assert (await position(ledger_engine, "wh-reno")).reserved == reserved - 2
    rows = await ledger.reservations_of(ledger_engine, "O-4")
    assert sorted((r["status"], r["qty"]) for r in rows) == [("released", 2), ("reserved", 3)]

    rest = ReleaseInput(order_id="O-4", reason="cancel all", idempotency_key="k2")
    assert (await ledger.release(ledger_engine, rest)).released_units == 3
    assert (await position(ledger_engine, "wh-reno")).reserved == reserved - 5


async def test_consume_takes_units_out_once(ledger_engine: AsyncEngine) -> None:
    before = await position(ledger_engine, "wh-dallas")
    await reserve(
        ledger_engine, "O-5", [ledger.Allocation("O-5:1:wh-dallas", "wh-dallas", SKU, "1", 4)]
    )
    assert await ledger.consume(ledger_engine, "O-5", "O-5:1:wh-dallas") == 4
    assert await ledger.consume(ledger_engine, "O-5", "O-5:1:wh-dallas") == 0
    after = await position(ledger_engine, "wh-dallas")
    assert (after.on_hand, after.reserved) == (before.on_hand - 4, before.reserved)


async def test_receipt_applies_once_per_reference(ledger_engine: AsyncEngine) -> None:
    before = await position(ledger_engine, "wh-columbus", "TREK-POLES")
    receipt = InventoryReceipt(node="wh-columbus", sku="TREK-POLES", qty=12, reference="ASN-77")
    assert await ledger.receive(ledger_engine, receipt) is True
    assert await ledger.receive(ledger_engine, receipt) is False
    assert (
        await position(ledger_engine, "wh-columbus", "TREK-POLES")
    ).on_hand == before.on_hand + 12


async def test_movements_explain_every_position(ledger_engine: AsyncEngine) -> None:
    await reserve(
        ledger_engine, "O-6", [ledger.Allocation("O-6:1:wh-reno", "wh-reno", SKU, "1", 6)]
    )
    await ledger.consume(ledger_engine, "O-6", "O-6:1:wh-reno")
    await reserve(
        ledger_engine, "O-7", [ledger.Allocation("O-7:1:wh-reno", "wh-reno", SKU, "1", 2)]
    )
    await ledger.release(
        ledger_engine, ReleaseInput(order_id="O-7", reason="test", idempotency_key="r7")
    )
    await ledger.receive(
        ledger_engine, InventoryReceipt(node="wh-reno", sku=SKU, qty=9, reference="R1")
    )
    m, p = schema.movements, schema.inventory_positions
    async with ledger_engine.connect() as conn:
        sums = {
            (r.node_id, r.sku): (r.oh, r.rs)
            for r in await conn.execute(
                sa.select(
                    m.c.node_id,
                    m.c.sku,
                    sa.func.sum(m.c.on_hand_delta).label("oh"),
                    sa.func.sum(m.c.reserved_delta).label("rs"),
                ).group_by(m.c.node_id, m.c.sku)
            )
        }
        for row in await conn.execute(sa.select(p)):
            assert sums[(row.node_id, row.sku)] == (row.on_hand, row.reserved)


async def test_concurrent_ledger_reserves_never_oversell(ledger_engine: AsyncEngine) -> None:
    node, sku = "wh-columbus", "TREK-POLES"
    atp = (await position(ledger_engine, node, sku)).atp

    async def one(i: int) -> bool:
        try:
            await reserve(ledger_engine, f"C-{i}", [ledger.Allocation(f"C-{i}", node, sku, "1", 1)])
            return True
        except ledger.InsufficientAtp:
            return False

    results = await asyncio.gather(*(one(i) for i in range(atp + 40)))
    assert sum(results) == atp
    assert (await position(ledger_engine, node, sku)).atp == 0
