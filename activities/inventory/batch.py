"""Apply a window's joint plan: move reservations between orders in one transaction, or not at all.

The joint re-plan (dom_workflows.routing.batch) was computed from reservations read earlier;
by the time it is applied an order may have been cancelled, shipped or re-routed. So every
reservation the swap takes back names the state it was read in (order, node, SKU, quantity,
still `reserved`) in the WHERE of its update, and every new reservation is a conditional ATP
increment (ledger.reserve). The first row that does not match raises SwapConflict, which rolls
back the whole swap: no order ends up with half of its new plan. Releases go first, so units
moving between two orders at the same position are free when the second order reserves them.

Each effect writes its movement (ledger._movement), so `dom inventory verify` explains every
position afterwards, and a swap is keyed: a retry of an applied swap returns its stored result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import capacity, ledger, schema
from activities.inventory.db import utcnow
from activities.inventory.node_settings import NodeSettings

pos = schema.inventory_positions
res = schema.reservations

NOTE = "batch re-plan"


@dataclass(frozen=True, slots=True)
class HeldReservation:
    """A reservation row the swap takes back, as it was read when the joint plan was made."""

    id: int
    order_id: str
    node: str
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class NewReservation:
    order_id: str
    route_attempt: int
    shipment_id: str
    line_id: str
    node: str
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Swap:
    key: str  # one-shot: a retry of an applied swap returns its result and changes nothing
    release: tuple[HeldReservation, ...]
    reserve: tuple[NewReservation, ...]


@dataclass(frozen=True, slots=True)
class SwapResult:
    released_units: int
    reserved_units: int
    orders: tuple[str, ...]


class SwapConflict(Exception):
    """The ledger changed since the joint plan was read; nothing of the swap was applied."""


async def apply_swap(
    engine: AsyncEngine, swap: Swap, settings: dict[str, NodeSettings] | None = None
) -> SwapResult:
    """Apply the swap in one transaction; raises SwapConflict (all rolled back) on any mismatch.

    With `settings`, the new shipments claim their nodes' daily capacity (a full node is a
    conflict too); released shipments always give theirs back.
    """
    key = f"batch-swap:{swap.key}"
    try:
        async with engine.begin() as conn:
            if not await ledger.claim_key(conn, key, "batch-swap"):
                return _result(await ledger.stored_result(conn, key))
            result = await _apply(conn, swap, settings)
            await conn.execute(
                schema.applied_keys.update()
                .where(schema.applied_keys.c.key == key)
                .values(result=asdict(result))
            )
            return result
    except IntegrityError:
        # A concurrent apply of the same swap claimed the key first; its result is the answer.
        async with engine.connect() as conn:
            stored = await ledger.stored_result(conn, key)
        if stored is None:
            raise
        return _result(stored)


def _result(stored: dict[str, object]) -> SwapResult:
    orders = stored["orders"]
    assert isinstance(orders, list)
    return SwapResult(
        released_units=int(str(stored["released_units"])),
        reserved_units=int(str(stored["reserved_units"])),
        orders=tuple(str(o) for o in orders),
    )


async def _apply(
    conn: AsyncConnection, swap: Swap, settings: dict[str, NodeSettings] | None
) -> SwapResult:
    now = utcnow()
    given_back: dict[str, int] = {}
    # Rows in id order: two swaps touching the same rows lock them alike (PostgreSQL).
    for held in sorted(swap.release, key=lambda h: h.id):
        shipment = await _take_back(conn, held, now)
        given_back[shipment] = given_back.get(shipment, 0) + held.qty
    for shipment_id, units in sorted(given_back.items()):
        await capacity.give_back(conn, shipment_id, units)
    try:
        for (order_id, attempt), allocations in sorted(_by_order(swap.reserve).items()):
            await ledger.reserve(conn, order_id, attempt, allocations)
        if settings is not None:
            await capacity.claim(conn, _shipments(swap.reserve), settings, now)
    except (ledger.InsufficientAtp, capacity.NodeFull) as exc:
        raise SwapConflict(f"swap {swap.key}: {exc}") from exc
    orders = {h.order_id for h in swap.release} | {n.order_id for n in swap.reserve}
    return SwapResult(
        released_units=sum(h.qty for h in swap.release),
        reserved_units=sum(n.qty for n in swap.reserve),
        orders=tuple(sorted(orders)),
    )


async def _take_back(conn: AsyncConnection, held: HeldReservation, now: datetime) -> str:
    """Release one row if it is still exactly as read; returns its shipment id."""
    row = (
        await conn.execute(
            res.update()
            .where(
                res.c.id == held.id,
                res.c.order_id == held.order_id,
                res.c.node_id == held.node,
                res.c.sku == held.sku,
                res.c.qty == held.qty,
                res.c.status == "reserved",
            )
            .values(status="released", updated_at=now)
            .returning(res.c.shipment_id)
        )
    ).first()
    if row is None:
        raise SwapConflict(
            f"reservation {held.id} ({held.order_id}: {held.qty} x {held.sku} at {held.node}) "
            "is no longer reserved as read; the swap was not applied"
        )
    moved = await conn.execute(
        pos.update()
        .where(pos.c.node_id == held.node, pos.c.sku == held.sku, pos.c.reserved >= held.qty)
        .values(reserved=pos.c.reserved - held.qty, updated_at=now)
    )
    if moved.rowcount != 1:
        raise ledger.LedgerInconsistent(
            f"reservation {held.id} holds {held.qty} x {held.sku} at {held.node}, but that "
            "position has fewer units reserved (see `dom inventory verify`)"
        )
    await ledger._movement(
        conn,
        now,
        held.node,
        held.sku,
        "release",
        reserved_delta=-held.qty,
        order_id=held.order_id,
        reservation_id=held.id,
        reference=str(row.shipment_id),
        note=NOTE,
    )
    return str(row.shipment_id)


def _by_order(new: tuple[NewReservation, ...]) -> dict[tuple[str, int], list[ledger.Allocation]]:
    out: dict[tuple[str, int], list[ledger.Allocation]] = {}
    for n in new:
        out.setdefault((n.order_id, n.route_attempt), []).append(
            ledger.Allocation(n.shipment_id, n.node, n.sku, n.line_id, n.qty)
        )
    return out


def _shipments(new: tuple[NewReservation, ...]) -> list[tuple[str, str, int]]:
    units: dict[tuple[str, str], int] = {}
    for n in new:
        units[(n.shipment_id, n.node)] = units.get((n.shipment_id, n.node), 0) + n.qty
    return [(s, node, u) for (s, node), u in sorted(units.items())]


async def reserved_rows(conn: AsyncConnection, order_ids: list[str]) -> list[HeldReservation]:
    """The orders' `reserved` rows as a swap's expected old state."""
    rows = await conn.execute(
        sa.select(res.c.id, res.c.order_id, res.c.node_id, res.c.sku, res.c.qty)
        .where(res.c.order_id.in_(order_ids), res.c.status == "reserved")
        .order_by(res.c.id)
    )
    return [HeldReservation(r.id, r.order_id, r.node_id, r.sku, r.qty) for r in rows]
