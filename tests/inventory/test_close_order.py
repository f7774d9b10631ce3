"""close_order on SQLite and PostgreSQL: a closed order holds nothing in `reserved`, the closure is
recorded in the same transaction, and a retry returns the first result and changes nothing."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from dom_workflows.inventory.models import CloseOrderInput

SKU = "TREK-POLES"


async def _reserved(engine: AsyncEngine, node: str) -> int:
    async with engine.connect() as conn:
        return next(p for p in await ledger.read_positions(conn, [SKU]) if p.node == node).reserved


async def _count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_close_releases_every_reserved_row_once(ledger_engine: AsyncEngine) -> None:
    reno, dallas = (
        await _reserved(ledger_engine, "wh-reno"),
        await _reserved(ledger_engine, "wh-dallas"),
    )
    async with ledger_engine.begin() as conn:
        await ledger.reserve(
            conn,
            "O-C",
            1,
            [
                ledger.Allocation("O-C:1:wh-reno", "wh-reno", SKU, "1", 2),
                ledger.Allocation("O-C:1:wh-dallas", "wh-dallas", SKU, "1", 3),
                ledger.Allocation("O-C:1:wh-dallas", "wh-dallas", SKU, "2", 1),
            ],
        )
    # One shipment already left: consumed rows are not released.
    assert await ledger.consume(ledger_engine, "O-C", "O-C:1:wh-reno") == 2

    inp = CloseOrderInput(order_id="O-C", status="cancelled", reason="customer cancelled")
    results = await asyncio.gather(*(ledger.close_order(ledger_engine, inp) for _ in range(3)))
    first = results[0]
    assert all(r == first for r in results)
    assert first.released_units == 4
    assert sorted((r.shipment_id, r.line_id, r.qty) for r in first.released) == [
        ("O-C:1:wh-dallas", "1", 3),
        ("O-C:1:wh-dallas", "2", 1),
    ]
    assert await _reserved(ledger_engine, "wh-dallas") == dallas
    assert await _reserved(ledger_engine, "wh-reno") == reno
    rows = await ledger.reservations_of(ledger_engine, "O-C")
    assert sorted(r["status"] for r in rows) == ["consumed", "released", "released"]

    m, c = schema.movements, schema.order_closures
    async with ledger_engine.connect() as conn:
        releases = (
            await conn.execute(
                sa.select(sa.func.sum(m.c.reserved_delta)).where(
                    m.c.order_id == "O-C", m.c.kind == "release"
                )
            )
        ).scalar_one()
        closure = (await conn.execute(sa.select(c).where(c.c.order_id == "O-C"))).one()
    assert releases == -4  # one movement per released row, written once
    assert (closure.status, closure.reason, closure.released_units) == (
        "cancelled",
        "customer cancelled",
        4,
    )

    # A later retry (another status even) returns the first result and writes nothing.
    moves = await _count(ledger_engine, m)
    again = await ledger.close_order(
        ledger_engine, CloseOrderInput(order_id="O-C", status="failed", reason="retry")
    )
    assert again == first
    assert await _count(ledger_engine, m) == moves


async def test_closing_an_order_without_reservations_records_it(ledger_engine: AsyncEngine) -> None:
    result = await ledger.close_order(
        ledger_engine, CloseOrderInput(order_id="O-NONE", status="failed", reason="invalid")
    )
    assert (result.released_units, result.released) == (0, [])
    assert await _count(ledger_engine, schema.order_closures) == 1
