"""Pre-orders: backordered units of orders allocated against inbound supply, and the units an
arrival reserved for them until the order routes them.

Allocation is first come first served: an order's backordered units take the earliest open
inbound with units nobody has pre-ordered, by one conditional update
(`allocated + received + take <= qty`), so concurrent orders can never pre-sell more than is
coming. `allocate_backorders` converges an order's pre-orders on its backordered units (the
order's activity, and new supply for the orders already waiting). The arrival
(inbound.receive) turns pre-orders into reservations (route attempt 0, shipment
`<order>:inbound:<id>`); the order's next reserve-and-route counts them as available to it
(`own_positions`) and adopts them as its shipment's reservations (`adopt`).

Lock order everywhere: the inbound row first, then its allocations, then positions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import ledger, schema
from activities.inventory.db import is_sqlite, utcnow
from dom_workflows.inventory.inbound import AllocateBackorders, BackorderPromise

inb = schema.inbound_supply
alloc = schema.inbound_allocations
res = schema.reservations
pos = schema.inventory_positions

# The route attempt of reservations an arrival makes before the order routes them.
PRERESERVED_ATTEMPT = 0


def locked(conn: AsyncConnection, stmt: sa.Select[Any]) -> sa.Select[Any]:
    """SQLite serialises writers with BEGIN IMMEDIATE; PostgreSQL needs row locks."""
    return stmt if is_sqlite(str(conn.engine.url)) else stmt.with_for_update()


def aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes for what was written as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=utcnow().tzinfo)


async def _lock_inbound(conn: AsyncConnection, inbound_id: str) -> None:
    await conn.execute(locked(conn, sa.select(inb.c.id).where(inb.c.id == inbound_id)))


async def allocate_units(
    conn: AsyncConnection, order_id: str, line_id: str, sku: str, qty: int, now: datetime
) -> int:
    """Allocate up to `qty` units of the line against open inbound, earliest expected first.
    Returns the units allocated (the rest has no inbound to wait for)."""
    need = qty
    candidates = await conn.execute(
        sa.select(inb.c.id)
        .where(
            inb.c.sku == sku,
            inb.c.status == "open",
            inb.c.qty - inb.c.received - inb.c.allocated > 0,
        )
        .order_by(inb.c.expected_at, inb.c.id)
    )
    for (inbound_id,) in list(candidates):
        while need > 0:
            current = (
                await conn.execute(
                    sa.select(inb.c.qty, inb.c.received, inb.c.allocated).where(
                        inb.c.id == inbound_id, inb.c.status == "open"
                    )
                )
            ).first()
            free = current.qty - current.received - current.allocated if current else 0
            if free <= 0:
                break
            take = min(need, free)
            # The cap is in the statement: a concurrent allocation that got here first makes
            # this match nothing, and we read again.
            won = await conn.execute(
                inb.update()
                .where(
                    inb.c.id == inbound_id,
                    inb.c.status == "open",
                    inb.c.allocated + inb.c.received + take <= inb.c.qty,
                )
                .values(allocated=inb.c.allocated + take, updated_at=now)
            )
            if won.rowcount != 1:
                continue
            await conn.execute(
                alloc.insert().values(
                    inbound_id=inbound_id,
                    order_id=order_id,
                    line_id=line_id,
                    sku=sku,
                    qty=take,
                    status="allocated",
                    created_at=now,
                    updated_at=now,
                )
            )
            need -= take
        if need == 0:
            break
    return qty - need


async def _release_allocations(
    conn: AsyncConnection, order_id: str, line_id: str, units: int, now: datetime
) -> int:
    """Give back up to `units` allocated units of the line, latest expected first."""
    rows = await conn.execute(
        sa.select(alloc.c.id, alloc.c.inbound_id, alloc.c.qty)
        .join(inb, inb.c.id == alloc.c.inbound_id)
        .where(
            alloc.c.order_id == order_id, alloc.c.line_id == line_id, alloc.c.status == "allocated"
        )
        .order_by(inb.c.expected_at.desc(), alloc.c.id.desc())
    )
    left = units
    for a in list(rows):
        if left <= 0:
            break
        await _lock_inbound(conn, a.inbound_id)  # the inbound row first (lock order)
        take = min(a.qty, left)
        done = await conn.execute(
            alloc.update()
            .where(alloc.c.id == a.id, alloc.c.status == "allocated", alloc.c.qty == a.qty)
            .values(
                qty=a.qty - take if take < a.qty else a.qty,
                status="allocated" if take < a.qty else "released",
                updated_at=now,
            )
        )
        if done.rowcount != 1:
            continue  # it arrived meanwhile: now a reservation
        await conn.execute(
            inb.update()
            .where(inb.c.id == a.inbound_id)
            .values(allocated=inb.c.allocated - take, updated_at=now)
        )
        left -= take
    return units - left


async def _prereserved(
    conn: AsyncConnection, order_id: str, *, lock: bool = False
) -> list[Row[Any]]:
    stmt = (
        sa.select(res)
        .where(
            res.c.order_id == order_id,
            res.c.status == "reserved",
            res.c.route_attempt == PRERESERVED_ATTEMPT,
        )
        .order_by(res.c.id)
    )
    return list(await conn.execute(locked(conn, stmt) if lock else stmt))


async def _release_prereserved(
    conn: AsyncConnection, order_id: str, line_id: str, units: int, now: datetime, why: str
) -> int:
    """Release up to `units` of the line's arrived, not yet routed units (newest first)."""
    left = units
    for r in reversed(await _prereserved(conn, order_id, lock=True)):
        if left <= 0:
            break
        if r.line_id != line_id:
            continue
        take = min(r.qty, left)
        await give_back(conn, r, take, now, why)
        left -= take
    return units - left


async def give_back(conn: AsyncConnection, r: Row[Any], take: int, now: datetime, why: str) -> None:
    if take == r.qty:
        await conn.execute(
            res.update()
            .where(res.c.id == r.id, res.c.status == "reserved")
            .values(status="released", updated_at=now)
        )
    else:
        await conn.execute(res.update().where(res.c.id == r.id).values(qty=r.qty - take))
    await conn.execute(
        pos.update()
        .where(pos.c.node_id == r.node_id, pos.c.sku == r.sku)
        .values(reserved=pos.c.reserved - take, updated_at=now)
    )
    await ledger._movement(
        conn,
        now,
        r.node_id,
        r.sku,
        "release",
        reserved_delta=-take,
        order_id=r.order_id,
        reservation_id=r.id,
        reference=r.shipment_id,
        note=why,
    )


async def allocate_backorders(
    engine: AsyncEngine, req: AllocateBackorders
) -> list[BackorderPromise]:
    """Make the order's pre-orders match its backordered units, line by line: allocate units
    that wait without inbound, give back allocations (and arrived units) a line no longer waits
    for. Idempotent: it converges on the order's state, so a retry changes nothing more. Returns
    what the order shows for its backordered units."""
    # Most calls have nothing to change (no inbound for the SKU): they only read, and take no
    # write lock another order's reserve-and-route would have to wait for.
    async with engine.connect() as conn:
        if await _in_step(conn, req):
            return await _promises(conn, req)
    now = utcnow()
    async with engine.begin() as conn:
        for ln in req.lines:
            covered = await _covered(conn, req.order_id, ln.line_id)
            if covered < ln.backordered:
                await allocate_units(
                    conn, req.order_id, ln.line_id, ln.sku, ln.backordered - covered, now
                )
            elif covered > ln.backordered:
                surplus = covered - ln.backordered
                surplus -= await _release_allocations(conn, req.order_id, ln.line_id, surplus, now)
                if surplus > 0:
                    await _release_prereserved(
                        conn, req.order_id, ln.line_id, surplus, now, "no longer backordered"
                    )
    # Read after the commit: the inbound rows' locks are not held while the answer is built.
    async with engine.connect() as conn:
        return await _promises(conn, req)


async def _covered(conn: AsyncConnection, order_id: str, line_id: str) -> int:
    """Units of the line pre-ordered (still coming) or arrived for it (not yet routed)."""
    arrived = sum(r.qty for r in await _prereserved(conn, order_id) if r.line_id == line_id)
    return await _sum_allocated(conn, order_id, line_id) + arrived


async def _in_step(conn: AsyncConnection, req: AllocateBackorders) -> bool:
    """Nothing to allocate or give back: every line is covered exactly, or waits for more than
    is covered while no open inbound of its SKU has units left."""
    for ln in req.lines:
        covered = await _covered(conn, req.order_id, ln.line_id)
        if covered > ln.backordered:
            return False
        if covered < ln.backordered:
            free = await conn.execute(
                sa.select(inb.c.id)
                .where(
                    inb.c.sku == ln.sku,
                    inb.c.status == "open",
                    inb.c.qty - inb.c.received - inb.c.allocated > 0,
                )
                .limit(1)
            )
            if free.first() is not None:
                return False
    return True


async def _sum_allocated(conn: AsyncConnection, order_id: str, line_id: str) -> int:
    total = await conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(alloc.c.qty), 0)).where(
            alloc.c.order_id == order_id, alloc.c.line_id == line_id, alloc.c.status == "allocated"
        )
    )
    return int(total.scalar_one())


async def _promises(conn: AsyncConnection, req: AllocateBackorders) -> list[BackorderPromise]:
    out: list[BackorderPromise] = []
    rows = await conn.execute(
        sa.select(
            alloc.c.line_id, alloc.c.sku, alloc.c.qty, inb.c.id, inb.c.node_id, inb.c.expected_at
        )
        .join(inb, inb.c.id == alloc.c.inbound_id)
        .where(alloc.c.order_id == req.order_id, alloc.c.status == "allocated")
        .order_by(inb.c.expected_at, alloc.c.id)
    )
    by_line: dict[str, list[BackorderPromise]] = defaultdict(list)
    for r in rows:
        by_line[r.line_id].append(
            BackorderPromise(
                line=r.line_id,
                sku=r.sku,
                qty=r.qty,
                expected_at=aware(r.expected_at),
                inbound=r.id,
                node=r.node_id,
            )
        )
    for arrived in await _prereserved(conn, req.order_id):
        by_line[arrived.line_id].insert(
            0,
            BackorderPromise(
                line=arrived.line_id,
                sku=arrived.sku,
                qty=arrived.qty,
                inbound=arrived.shipment_id.rsplit(":inbound:", 1)[-1],
                node=arrived.node_id,
                arrived=True,
            ),
        )
    for ln in req.lines:
        if ln.backordered <= 0:
            continue
        promised = by_line.get(ln.line_id, [])
        out.extend(promised)
        dateless = ln.backordered - sum(p.qty for p in promised)
        if dateless > 0:
            out.append(BackorderPromise(line=ln.line_id, sku=ln.sku, qty=dateless))
    return out


# ----------------------------------------------------------------------------- routing


def own_positions(
    positions: list[ledger.Position], prereserved: dict[tuple[str, str], int]
) -> list[ledger.Position]:
    """Positions as the order that holds `prereserved` units ((node, sku) -> units) sees them:
    its own arrived units count as available to it, on top of the position's ATP (safety stock
    never eats them: they were never ATP)."""
    out = []
    for p in positions:
        own = prereserved.get((p.node, p.sku), 0)
        if own:
            mine = replace(p, reserved=p.reserved - own)
            short = p.atp + own - mine.atp  # what safety stock would take of the own units
            p = replace(mine, safety_stock=max(0, p.safety_stock - short))
        out.append(p)
    return out


async def prereserved_units(
    conn: AsyncConnection, order_id: str, line_ids: set[str]
) -> dict[tuple[str, str], int]:
    """(node, sku) -> units arrived for these lines of the order and not routed yet."""
    units: dict[tuple[str, str], int] = defaultdict(int)
    for r in await _prereserved(conn, order_id):
        if r.line_id in line_ids:
            units[(r.node_id, r.sku)] += r.qty
    return dict(units)


async def adopt(
    conn: AsyncConnection, order_id: str, attempt: int, allocations: list[ledger.Allocation]
) -> list[ledger.Allocation]:
    """Inside reserve-and-route's transaction: the plan's allocations take the order's arrived
    units at their node first (the reservation row becomes the shipment's); what is left to
    reserve from ATP is returned. Arrived units of the routed lines that the plan does not use
    are released (the router found them a better node), so the order holds nothing it will
    not ship."""
    rows = [r for r in await _prereserved(conn, order_id, lock=True)]
    if not rows:
        return allocations
    now = utcnow()
    routed_lines = {a.line_id for a in allocations}
    left = {r.id: r.qty for r in rows}
    rest: list[ledger.Allocation] = []
    for a in allocations:
        need = a.qty
        for r in rows:
            if need == 0:
                break
            if (r.node_id, r.sku, r.line_id) != (a.node, a.sku, a.line_id) or not left[r.id]:
                continue
            take = min(need, left[r.id])
            await _split_to_shipment(conn, r, left[r.id], take, a, attempt, now)
            left[r.id] -= take
            need -= take
        if need:
            rest.append(replace(a, qty=need))
    for r in rows:
        if left[r.id] and r.line_id in routed_lines:
            current = (await conn.execute(sa.select(res).where(res.c.id == r.id))).one()
            await give_back(conn, current, left[r.id], now, "arrived units not used by the route")
    return rest


async def _split_to_shipment(
    conn: AsyncConnection,
    r: Row[Any],
    remaining: int,
    take: int,
    a: ledger.Allocation,
    attempt: int,
    now: datetime,
) -> None:
    if take == remaining:
        await conn.execute(
            res.update()
            .where(res.c.id == r.id)
            .values(
                route_attempt=attempt,
                shipment_id=a.shipment_id,
                qty=take,
                updated_at=now,
            )
        )
        return
    await conn.execute(res.update().where(res.c.id == r.id).values(qty=remaining - take))
    await conn.execute(
        res.insert().values(
            order_id=r.order_id,
            route_attempt=attempt,
            shipment_id=a.shipment_id,
            line_id=r.line_id,
            node_id=r.node_id,
            sku=r.sku,
            qty=take,
            status="reserved",
            created_at=now,
            updated_at=now,
        )
    )


async def release_order(conn: AsyncConnection, order_id: str) -> None:
    """An order closed: its pre-orders of units still on their way are given back."""
    now = utcnow()
    rows = await conn.execute(
        sa.select(alloc.c.line_id)
        .where(alloc.c.order_id == order_id, alloc.c.status == "allocated")
        .group_by(alloc.c.line_id)
    )
    for (line_id,) in list(rows):
        await _release_allocations(conn, order_id, line_id, 10**9, now)


InboundProblem = Literal["inbound-allocated-mismatch", "closed-order-preorders"]


async def inconsistencies(conn: AsyncConnection) -> list[tuple[str, str, InboundProblem]]:
    """(sku, what is wrong, kind) for `dom inventory verify`: an inbound whose `allocated` is
    not the sum of its pre-orders still coming, and pre-orders still held by closed orders."""
    found: list[tuple[str, str, InboundProblem]] = []
    sums = (
        sa.select(alloc.c.inbound_id, sa.func.sum(alloc.c.qty).label("units"))
        .where(alloc.c.status == "allocated")
        .group_by(alloc.c.inbound_id)
        .subquery()
    )
    rows = await conn.execute(
        sa.select(inb.c.id, inb.c.sku, inb.c.allocated, sa.func.coalesce(sums.c.units, 0))
        .outerjoin(sums, sums.c.inbound_id == inb.c.id)
        .where(inb.c.allocated != sa.func.coalesce(sums.c.units, 0))
        .order_by(inb.c.id)
    )
    for inbound_id, sku, allocated, units in rows:
        found.append(
            (
                sku,
                f"inbound {inbound_id}: allocated is {allocated}, its pre-orders still coming "
                f"hold {units}",
                "inbound-allocated-mismatch",
            )
        )
    closures = schema.order_closures
    stale = await conn.execute(
        sa.select(alloc.c.order_id, alloc.c.sku, sa.func.sum(alloc.c.qty).label("units"))
        .join(closures, closures.c.order_id == alloc.c.order_id)
        .where(alloc.c.status == "allocated")
        .group_by(alloc.c.order_id, alloc.c.sku)
        .order_by(alloc.c.order_id)
    )
    for order_id, sku, units in stale:
        found.append(
            (
                sku,
                f"order {order_id} is closed but still pre-orders {units} unit(s) of inbound",
                "closed-order-preorders",
            )
        )
    return found
