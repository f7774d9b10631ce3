"""Inbound supply: purchase orders and transfers on their way to a node. Create, change the
date, cancel, receive, and the views of what is coming (by date, for ATP and promises).

The arrival (`receive`) raises on_hand and, in the same transaction, turns the inbound's
pre-orders (activities/inventory/preorders.py) into reservations for their orders, oldest first:
when the stock shows up in ATP, the pre-ordered units are already out of it, so no later order
can take them. Cancelling moves its pre-orders to other inbound, first come first served.

Lock order everywhere: the inbound row first, then its allocations, then positions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import ledger, preorders, schema
from activities.inventory.db import utcnow
from activities.inventory.preorders import aware, locked
from dom_workflows.inventory.inbound import (
    AtpInbound,
    Inbound,
    InboundByDate,
    InboundChange,
    InboundRequest,
    prereservation_shipment_id,
)
from dom_workflows.inventory.models import AtpView

inb = schema.inbound_supply
alloc = schema.inbound_allocations
res = schema.reservations
pos = schema.inventory_positions


class InboundRefused(Exception):
    """The request cannot be applied; nothing was changed. `kind` names the problem."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


def _model(r: Row[Any]) -> Inbound:
    due = r.qty - r.received if r.status == "open" else 0
    return Inbound(
        id=r.id,
        kind=r.kind,
        node=r.node_id,
        sku=r.sku,
        qty=r.qty,
        received=r.received,
        allocated=r.allocated,
        available=max(0, due - r.allocated),
        expected_at=aware(r.expected_at),
        status=r.status,
        source=r.source,
        created_at=aware(r.created_at),
        updated_at=aware(r.updated_at),
    )


async def _row(conn: AsyncConnection, inbound_id: str, *, lock: bool = False) -> Row[Any]:
    stmt = sa.select(inb).where(inb.c.id == inbound_id)
    row = (await conn.execute(locked(conn, stmt) if lock else stmt)).first()
    if row is None:
        raise InboundRefused(404, "unknown-inbound", f"no inbound {inbound_id[:120]!r}")
    return row


async def _orders_of(
    conn: AsyncConnection, inbound_id: str, statuses: tuple[str, ...]
) -> list[str]:
    rows = await conn.execute(
        sa.select(alloc.c.order_id)
        .where(alloc.c.inbound_id == inbound_id, alloc.c.status.in_(statuses))
        .group_by(alloc.c.order_id)
        .order_by(sa.func.min(alloc.c.id))
    )
    return [r.order_id for r in rows]


# ----------------------------------------------------------------------------- reads


async def get_inbound(engine: AsyncEngine, inbound_id: str) -> Inbound:
    async with engine.connect() as conn:
        return _model(await _row(conn, inbound_id))


async def list_inbound(
    engine: AsyncEngine, sku: str | None = None, status: str | None = None, limit: int = 500
) -> list[Inbound]:
    stmt = sa.select(inb).order_by(inb.c.expected_at, inb.c.id).limit(limit)
    if sku is not None:
        stmt = stmt.where(inb.c.sku == sku)
    if status is not None:
        stmt = stmt.where(inb.c.status == status)
    async with engine.connect() as conn:
        return [_model(r) for r in await conn.execute(stmt)]


async def inbound_by_date(conn: AsyncConnection, skus: list[str]) -> list[InboundByDate]:
    """Open inbound of these SKUs, earliest first: units still on their way and how many of
    them nobody has pre-ordered (what a promise may date with the inbound's expected_at)."""
    rows = await conn.execute(
        sa.select(inb)
        .where(inb.c.sku.in_(sorted(set(skus))), inb.c.status == "open")
        .order_by(inb.c.sku, inb.c.expected_at, inb.c.id)
    )
    return [
        InboundByDate(
            inbound=r.id,
            node=r.node_id,
            sku=r.sku,
            expected_at=aware(r.expected_at),
            qty=r.qty - r.received,
            unallocated=max(0, r.qty - r.received - r.allocated),
        )
        for r in rows
        if r.qty > r.received
    ]


async def atp_inbound(conn: AsyncConnection, sku: str) -> list[AtpInbound]:
    return [
        AtpInbound(
            inbound=i.inbound,
            node=i.node,
            expected_at=i.expected_at,
            qty=i.qty,
            available=i.unallocated,
        )
        for i in await inbound_by_date(conn, [sku])
    ]


# ----------------------------------------------------------------------------- create / change


async def upsert(engine: AsyncEngine, req: InboundRequest) -> tuple[InboundChange, bool]:
    """Create the inbound, or update an open one with the same id (qty, expected_at, source).
    Returns (the change, created). The same request twice changes nothing."""
    now = utcnow()
    try:
        async with engine.begin() as conn:
            await ledger._check_known(conn, req.node, req.sku)
            existing = (
                await conn.execute(locked(conn, sa.select(inb).where(inb.c.id == req.id)))
            ).first()
            if existing is None:
                await conn.execute(
                    inb.insert().values(
                        id=req.id,
                        kind=req.kind,
                        node_id=req.node,
                        sku=req.sku,
                        qty=req.qty,
                        allocated=0,
                        received=0,
                        expected_at=req.expected_at,
                        status="open",
                        source=req.source,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return InboundChange(inbound=_model(await _row(conn, req.id)), applied=True), True
            return await _update(conn, existing, req, now), False
    except IntegrityError:
        # A concurrent create of the same id committed first: apply ours as an update.
        async with engine.begin() as conn:
            return await _update(conn, await _row(conn, req.id, lock=True), req, now), False
    except ValueError as e:  # unknown node or SKU
        kind = "unknown-node" if "node" in str(e) else "unknown-sku"
        raise InboundRefused(422, kind, str(e)) from None


async def _update(
    conn: AsyncConnection, row: Row[Any], req: InboundRequest, now: datetime
) -> InboundChange:
    if (row.kind, row.node_id, row.sku) != (req.kind, req.node, req.sku):
        raise InboundRefused(
            409,
            "inbound-conflict",
            f"inbound {req.id} is {row.kind} of {row.sku} to {row.node_id}; "
            "its kind, node and SKU cannot change (cancel it and create another)",
        )
    same = (row.qty, aware(row.expected_at), row.source) == (
        req.qty,
        req.expected_at,
        req.source,
    )
    if same:
        return InboundChange(inbound=_model(row), applied=False)
    if row.status != "open":
        raise InboundRefused(409, "inbound-closed", f"inbound {req.id} is {row.status}")
    if req.qty < row.received + row.allocated:
        raise InboundRefused(
            409,
            "inbound-overallocated",
            f"inbound {req.id} has {row.received} units received and {row.allocated} pre-ordered; "
            f"its quantity cannot drop to {req.qty}",
        )
    await conn.execute(
        inb.update()
        .where(inb.c.id == req.id)
        .values(qty=req.qty, expected_at=req.expected_at, source=req.source, updated_at=now)
    )
    moved = aware(row.expected_at) != req.expected_at
    orders = await _orders_of(conn, req.id, ("allocated",)) if moved else []
    return InboundChange(inbound=_model(await _row(conn, req.id)), applied=True, orders=orders)


async def delay(engine: AsyncEngine, inbound_id: str, expected_at: datetime) -> InboundChange:
    """A new expected date (late, or early). Returns the orders pre-ordered against it, whose
    customer-facing date changes."""
    if expected_at.tzinfo is None:
        raise InboundRefused(422, "naive-datetime", "expected_at needs a timezone")
    async with engine.begin() as conn:
        row = await _row(conn, inbound_id, lock=True)
        if row.status != "open":
            raise InboundRefused(409, "inbound-closed", f"inbound {inbound_id} is {row.status}")
        if aware(row.expected_at) == expected_at:
            return InboundChange(inbound=_model(row), applied=False)
        await conn.execute(
            inb.update()
            .where(inb.c.id == inbound_id)
            .values(expected_at=expected_at, updated_at=utcnow())
        )
        return InboundChange(
            inbound=_model(await _row(conn, inbound_id)),
            applied=True,
            orders=await _orders_of(conn, inbound_id, ("allocated",)),
        )


async def cancel(engine: AsyncEngine, inbound_id: str) -> InboundChange:
    """The rest of the inbound will not come. Its allocations are released, oldest first, and
    each moves to other open inbound of the SKU if there is any (a later date); units none can
    take stay backordered without a date. A repeat changes nothing."""
    now = utcnow()
    async with engine.begin() as conn:
        row = await _row(conn, inbound_id, lock=True)
        if row.status == "cancelled":
            return InboundChange(inbound=_model(row), applied=False)
        if row.status != "open":
            raise InboundRefused(409, "inbound-closed", f"inbound {inbound_id} is {row.status}")
        await conn.execute(
            inb.update()
            .where(inb.c.id == inbound_id, inb.c.status == "open")
            .values(status="cancelled", allocated=0, updated_at=now)
        )
        waiting = list(
            await conn.execute(
                locked(
                    conn,
                    sa.select(alloc)
                    .where(alloc.c.inbound_id == inbound_id, alloc.c.status == "allocated")
                    .order_by(alloc.c.id),
                )
            )
        )
        moved = left = 0
        for a in waiting:
            await conn.execute(
                alloc.update().where(alloc.c.id == a.id).values(status="released", updated_at=now)
            )
            got = await preorders.allocate_units(conn, a.order_id, a.line_id, a.sku, a.qty, now)
            moved, left = moved + got, left + a.qty - got
        orders = list(dict.fromkeys(a.order_id for a in waiting))
        return InboundChange(
            inbound=_model(await _row(conn, inbound_id)),
            applied=True,
            orders=orders,
            reallocated_units=moved,
            released_units=left,
        )


# ----------------------------------------------------------------------------- arrival


async def receive(
    engine: AsyncEngine, inbound_id: str, qty: int | None = None, reference: str | None = None
) -> InboundChange:
    """Units of the inbound arrived at its node (all that is still due, or `qty`). on_hand goes
    up with a `receipt` movement keyed by the inbound, and the inbound's allocations become
    reservations for their orders, oldest first, in the same transaction. Applied once per
    reference (default: the inbound's id); a repeat returns applied=False and the orders again,
    so a caller that retries still wakes them."""
    key = f"inbound:{inbound_id}:{reference or inbound_id}"
    now = utcnow()
    try:
        async with engine.begin() as conn:
            row = await _row(conn, inbound_id, lock=True)
            if await ledger.stored_result(conn, key) is not None:
                return await _repeat(conn, row)
            if row.status != "open":
                raise InboundRefused(409, "inbound-closed", f"inbound {inbound_id} is {row.status}")
            due = row.qty - row.received
            take = due if qty is None else qty
            if take > due:
                raise InboundRefused(
                    422,
                    "too-many-units",
                    f"inbound {inbound_id} has {due} units still due; {take} cannot arrive",
                )
            await ledger.claim_key(conn, key, "inbound-receipt")
            await _add_on_hand(conn, row.node_id, row.sku, take, now)
            await ledger._movement(
                conn,
                now,
                row.node_id,
                row.sku,
                "receipt",
                on_hand_delta=take,
                reference=inbound_id,
                note=f"inbound {row.kind} {inbound_id}" + (f" ({reference})" if reference else ""),
            )
            reserved = await _reserve_allocations(conn, row, take, now)
            received = row.received + take
            await conn.execute(
                inb.update()
                .where(inb.c.id == inbound_id)
                .values(
                    received=received,
                    allocated=inb.c.allocated - reserved,
                    status="received" if received == row.qty else "open",
                    updated_at=now,
                )
            )
            change = InboundChange(
                inbound=_model(await _row(conn, inbound_id)),
                applied=True,
                orders=await _orders_of(conn, inbound_id, ("reserved",)),
                reserved_units=reserved,
                unallocated_received=take - reserved,
            )
            await conn.execute(
                schema.applied_keys.update()
                .where(schema.applied_keys.c.key == key)
                .values(result=change.model_dump(mode="json"))
            )
            return change
    except IntegrityError:
        # A concurrent delivery of the same receipt committed first.
        async with engine.connect() as conn:
            return await _repeat(conn, await _row(conn, inbound_id))


async def _repeat(conn: AsyncConnection, row: Row[Any]) -> InboundChange:
    return InboundChange(
        inbound=_model(row),
        applied=False,
        orders=await _orders_of(conn, row.id, ("reserved",)),
    )


async def _add_on_hand(conn: AsyncConnection, node: str, sku: str, qty: int, now: datetime) -> None:
    updated = await conn.execute(
        pos.update()
        .where(pos.c.node_id == node, pos.c.sku == sku)
        .values(on_hand=pos.c.on_hand + qty, updated_at=now)
    )
    if updated.rowcount != 1:
        await conn.execute(
            pos.insert().values(
                node_id=node, sku=sku, on_hand=qty, reserved=0, safety_stock=0, updated_at=now
            )
        )


async def _reserve_allocations(
    conn: AsyncConnection, row: Row[Any], units: int, now: datetime
) -> int:
    """Turn up to `units` allocated units of the inbound into reservations, oldest allocation
    first; allocations of orders already closed are released instead. Returns units reserved."""
    left = units
    reserved = 0
    waiting = await conn.execute(
        locked(
            conn,
            sa.select(alloc)
            .where(alloc.c.inbound_id == row.id, alloc.c.status == "allocated")
            .order_by(alloc.c.id),
        )
    )
    for a in list(waiting):
        if left <= 0:
            break
        if await ledger.is_closed(conn, a.order_id):
            await conn.execute(
                alloc.update().where(alloc.c.id == a.id).values(status="released", updated_at=now)
            )
            await conn.execute(
                inb.update().where(inb.c.id == row.id).values(allocated=inb.c.allocated - a.qty)
            )
            continue
        take = min(a.qty, left)
        left -= take
        reserved += take
        if take == a.qty:
            await conn.execute(
                alloc.update().where(alloc.c.id == a.id).values(status="reserved", updated_at=now)
            )
        else:  # split: the rest stays allocated to what is still due
            await conn.execute(
                alloc.update().where(alloc.c.id == a.id).values(qty=a.qty - take, updated_at=now)
            )
            await conn.execute(
                alloc.insert().values(
                    inbound_id=row.id,
                    order_id=a.order_id,
                    line_id=a.line_id,
                    sku=a.sku,
                    qty=take,
                    status="reserved",
                    created_at=a.created_at,
                    updated_at=now,
                )
            )
        await _prereserve(conn, row, a.order_id, a.line_id, take, now)
    return reserved


async def _prereserve(
    conn: AsyncConnection, row: Row[Any], order_id: str, line_id: str, qty: int, now: datetime
) -> None:
    """Reserve pre-ordered units that just arrived. No ATP check: they were never ATP (the
    receipt that raised on_hand is in this transaction), so safety stock does not apply."""
    moved = await conn.execute(
        pos.update()
        .where(
            pos.c.node_id == row.node_id,
            pos.c.sku == row.sku,
            pos.c.reserved + qty <= pos.c.on_hand,
        )
        .values(reserved=pos.c.reserved + qty, updated_at=now)
    )
    if moved.rowcount != 1:
        raise ledger.LedgerInconsistent(
            f"{row.node_id} has fewer than {qty} x {row.sku} unreserved right after receiving them"
        )
    inserted = await conn.execute(
        res.insert()
        .values(
            order_id=order_id,
            route_attempt=preorders.PRERESERVED_ATTEMPT,
            shipment_id=prereservation_shipment_id(order_id, row.id),
            line_id=line_id,
            node_id=row.node_id,
            sku=row.sku,
            qty=qty,
            status="reserved",
            created_at=now,
            updated_at=now,
        )
        .returning(res.c.id)
    )
    await ledger._movement(
        conn,
        now,
        row.node_id,
        row.sku,
        "reserve",
        reserved_delta=qty,
        order_id=order_id,
        reservation_id=inserted.scalar_one(),
        reference=row.id,
        note=f"pre-ordered from inbound {row.id}",
    )


async def atp_view(engine: AsyncEngine, sku: str) -> AtpView:
    """The ledger's ATP view of the SKU with the units on their way, by date."""
    view = await ledger.atp_view(engine, sku)
    async with engine.connect() as conn:
        view.inbound = await atp_inbound(conn, sku)
    return view
