"""Applying a window's joint plan on SQLite and PostgreSQL: reservations move between orders in one
transaction; ledger totals stay, ATP never goes negative, and any row changed since the plan was
read (a concurrent cancel, a second swap) rolls the whole swap back."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger
from activities.inventory.batch import (
    NewReservation,
    Swap,
    SwapConflict,
    apply_swap,
    reserved_rows,
)
from activities.inventory.verify import verify
from dom_workflows.inventory.models import ReleaseInput

SKU = "TREK-POLES"
RENO, DALLAS = "wh-reno", "wh-dallas"


async def positions(engine: AsyncEngine) -> dict[str, ledger.Position]:
    async with engine.connect() as conn:
        return {p.node: p for p in await ledger.read_positions(conn, [SKU])}


async def reserve(engine: AsyncEngine, order: str, node: str, qty: int) -> None:
    async with engine.begin() as conn:
        await ledger.reserve(
            conn, order, 1, [ledger.Allocation(f"{order}:1:{node}", node, SKU, "1", qty)]
        )


async def held(engine: AsyncEngine, order: str) -> list[tuple[str, int]]:
    rows = await ledger.reservations_of(engine, order)
    return sorted((r["node_id"], r["qty"]) for r in rows if r["status"] == "reserved")


def new(order: str, node: str, qty: int) -> NewReservation:
    return NewReservation(order, 2, f"{order}:2:{node}", "1", node, SKU, qty)


async def crossed_swap(engine: AsyncEngine, key: str = "w1") -> Swap:
    """A holds 2 at Reno, B holds 3 at Dallas; the joint plan gives A Dallas and B Reno."""
    async with engine.connect() as conn:
        rows = await reserved_rows(conn, ["A", "B"])
    return Swap(key, tuple(rows), (new("A", DALLAS, 2), new("B", RENO, 3)))


@pytest.fixture
async def two_orders(ledger_engine: AsyncEngine) -> AsyncEngine:
    await reserve(ledger_engine, "A", RENO, 2)
    await reserve(ledger_engine, "B", DALLAS, 3)
    return ledger_engine


async def test_swap_moves_reservations_and_keeps_ledger_totals(two_orders: AsyncEngine) -> None:
    before = await positions(two_orders)
    result = await apply_swap(two_orders, await crossed_swap(two_orders))
    assert (result.released_units, result.reserved_units, result.orders) == (5, 5, ("A", "B"))
    assert await held(two_orders, "A") == [(DALLAS, 2)]
    assert await held(two_orders, "B") == [(RENO, 3)]
    after = await positions(two_orders)
    assert {n: p.on_hand for n, p in after.items()} == {n: p.on_hand for n, p in before.items()}
    assert sum(p.reserved for p in after.values()) == sum(p.reserved for p in before.values())
    assert after[RENO].reserved == before[RENO].reserved + 1
    assert after[DALLAS].reserved == before[DALLAS].reserved - 1
    assert all(p.on_hand - p.reserved - p.held - p.safety_stock >= 0 for p in after.values())
    # Every position is still explained by its movements and its reserved rows.
    assert await verify(two_orders) == []


async def test_a_retried_swap_returns_its_result_and_changes_nothing(
    two_orders: AsyncEngine,
) -> None:
    swap = await crossed_swap(two_orders)
    first = await apply_swap(two_orders, swap)
    after = await positions(two_orders)
    assert await apply_swap(two_orders, swap) == first
    assert await positions(two_orders) == after


async def test_a_cancel_after_the_plan_was_read_aborts_the_whole_swap(
    two_orders: AsyncEngine,
) -> None:
    swap = await crossed_swap(two_orders)
    # B is cancelled between the joint plan and its application.
    await ledger.release(
        two_orders, ReleaseInput(order_id="B", reason="cancel", idempotency_key="cancel-B")
    )
    before = await positions(two_orders)
    with pytest.raises(SwapConflict, match="no longer reserved as read"):
        await apply_swap(two_orders, swap)
    # A's release, the first statement of the swap, was rolled back with the rest.
    assert await held(two_orders, "A") == [(RENO, 2)]
    assert await held(two_orders, "B") == []
    assert await positions(two_orders) == before
    assert await verify(two_orders) == []


async def test_a_new_reservation_beyond_atp_aborts_the_whole_swap(two_orders: AsyncEngine) -> None:
    read = await crossed_swap(two_orders)
    before = await positions(two_orders)
    too_many = before[DALLAS].atp + 3 + 1  # Dallas' ATP once B's 3 units are back, plus one
    swap = Swap("big", read.release, (new("A", DALLAS, too_many), new("B", RENO, 3)))
    with pytest.raises(SwapConflict, match="no longer has"):
        await apply_swap(two_orders, swap)
    assert await held(two_orders, "A") == [(RENO, 2)]
    assert await held(two_orders, "B") == [(DALLAS, 3)]
    assert await positions(two_orders) == before


async def test_two_concurrent_swaps_of_the_same_rows_apply_once(two_orders: AsyncEngine) -> None:
    one = await crossed_swap(two_orders, "one")
    other = Swap("other", one.release, (new("A", RENO, 2), new("B", RENO, 3)))
    outcomes = await asyncio.gather(
        apply_swap(two_orders, one), apply_swap(two_orders, other), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["SwapConflict", "SwapResult"]
    after = await positions(two_orders)
    assert sum(p.reserved for p in after.values()) >= 5
    assert await verify(two_orders) == []
    rows = await ledger.reservations_of(two_orders, "A") + await ledger.reservations_of(
        two_orders, "B"
    )
    assert sum(r["qty"] for r in rows if r["status"] == "reserved") == 5
