"""Ledger operations. Every write is a conditional update inside one transaction, so concurrent
activities can never oversell, and every effect is keyed so a retry applies it at most once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import availability, capacity, schema
from activities.inventory.db import is_sqlite, utcnow
from dom_workflows.common.models import ShipmentLine
from dom_workflows.inventory.models import (
    AtpRow,
    AtpView,
    CloseOrderInput,
    CloseOrderResult,
    InventoryReceipt,
    ReleasedReservation,
    ReleaseInput,
    ReleaseResult,
)

pos = schema.inventory_positions
res = schema.reservations


@dataclass(frozen=True)
class Allocation:
    shipment_id: str
    node: str
    sku: str
    line_id: str
    qty: int


@dataclass(frozen=True)
class Position:
    node: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    held: int = 0  # units in shopping carts (activities.inventory.holds)

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.reserved - self.held - self.safety_stock)


class LedgerInconsistent(Exception):
    """A write found the ledger in a state its invariants forbid; nothing was changed."""


class InsufficientAtp(Exception):
    def __init__(self, node: str, sku: str, qty: int) -> None:
        super().__init__(f"{node} no longer has {qty} x {sku} available to promise")
        self.node, self.sku, self.qty = node, sku, qty


def _locking(conn: AsyncConnection, stmt: sa.Select[Any]) -> sa.Select[Any]:
    # SQLite serialises writers with BEGIN IMMEDIATE; PostgreSQL needs row locks.
    return stmt if is_sqlite(str(conn.engine.url)) else stmt.with_for_update()


async def read_positions(conn: AsyncConnection, skus: list[str]) -> list[Position]:
    rows = await conn.execute(
        sa.select(
            pos.c.node_id, pos.c.sku, pos.c.on_hand, pos.c.reserved, pos.c.safety_stock, pos.c.held
        )
        .where(pos.c.sku.in_(skus))
        .order_by(pos.c.node_id, pos.c.sku)
    )
    return [Position(r.node_id, r.sku, r.on_hand, r.reserved, r.safety_stock, r.held) for r in rows]


async def reserve(
    conn: AsyncConnection, order_id: str, attempt: int, allocations: list[Allocation]
) -> None:
    """Reserve every allocation or none: raises InsufficientAtp and the caller rolls back."""
    now = utcnow()
    for a in allocations:
        # The ATP check and the increment are one statement: no read-then-write window.
        result = await conn.execute(
            pos.update()
            .where(
                pos.c.node_id == a.node,
                pos.c.sku == a.sku,
                pos.c.on_hand - pos.c.reserved - pos.c.held - pos.c.safety_stock >= a.qty,
            )
            .values(reserved=pos.c.reserved + a.qty, updated_at=now)
        )
        if result.rowcount != 1:
            raise InsufficientAtp(a.node, a.sku, a.qty)
        inserted = await conn.execute(
            res.insert()
            .values(
                order_id=order_id,
                route_attempt=attempt,
                shipment_id=a.shipment_id,
                line_id=a.line_id,
                node_id=a.node,
                sku=a.sku,
                qty=a.qty,
                status="reserved",
                created_at=now,
                updated_at=now,
            )
            .returning(res.c.id)
        )
        await _movement(
            conn,
            now,
            a.node,
            a.sku,
            "reserve",
            reserved_delta=a.qty,
            order_id=order_id,
            reservation_id=inserted.scalar_one(),
            reference=a.shipment_id,
        )


async def _movement(
    conn: AsyncConnection,
    at: datetime,
    node: str,
    sku: str,
    kind: str,
    *,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    order_id: str | None = None,
    reservation_id: int | None = None,
    reference: str | None = None,
    note: str = "",
) -> None:
    await conn.execute(
        schema.movements.insert().values(
            at=at,
            node_id=node,
            sku=sku,
            kind=kind,
            on_hand_delta=on_hand_delta,
            reserved_delta=reserved_delta,
            order_id=order_id,
            reservation_id=reservation_id,
            reference=reference,
            note=note[:500],
        )
    )
    # Every position change writes a movement, so this is the one place that keeps the SKU's
    # version (promise cache) and the availability change feed current.
    await availability.touch(conn, [sku], kind)


async def claim_key(conn: AsyncConnection, key: str, kind: str) -> bool:
    """Record a one-shot key inside the caller's transaction; False if it was already applied."""
    exists = await conn.execute(
        sa.select(schema.applied_keys.c.key).where(schema.applied_keys.c.key == key)
    )
    if exists.first() is not None:
        return False
    await conn.execute(schema.applied_keys.insert().values(key=key, kind=kind, created_at=utcnow()))
    return True


async def stored_result(conn: AsyncConnection, key: str) -> Any:
    row = await conn.execute(
        sa.select(schema.applied_keys.c.result).where(schema.applied_keys.c.key == key)
    )
    return row.scalar_one_or_none()


async def release(engine: AsyncEngine, inp: ReleaseInput) -> ReleaseResult:
    """Release reserved units of an order (a shipment, a line, or a quantity of a line)."""
    try:
        async with engine.begin() as conn:
            if not await claim_key(conn, inp.idempotency_key, "release"):
                return ReleaseResult.model_validate(await stored_result(conn, inp.idempotency_key))
            result = await _release_in(conn, inp)
            await conn.execute(
                schema.applied_keys.update()
                .where(schema.applied_keys.c.key == inp.idempotency_key)
                .values(result=result.model_dump(mode="json"))
            )
            return result
    except IntegrityError:
        # A concurrent duplicate claimed the key first; its result is the answer.
        async with engine.connect() as conn:
            return ReleaseResult.model_validate(await stored_result(conn, inp.idempotency_key))


async def _release_in(conn: AsyncConnection, inp: ReleaseInput) -> ReleaseResult:
    now = utcnow()
    query = sa.select(res).where(res.c.order_id == inp.order_id, res.c.status == "reserved")
    if inp.shipment_id is not None:
        query = query.where(res.c.shipment_id == inp.shipment_id)
    if inp.line_id is not None:
        query = query.where(res.c.line_id == inp.line_id)
    rows = list(await conn.execute(_locking(conn, query.order_by(res.c.id.desc()))))
    remaining = inp.qty if inp.qty is not None else sum(r.qty for r in rows)
    released: list[ShipmentLine] = []
    by_shipment: dict[str, int] = {}  # units released per shipment: its capacity comes back
    for r in rows:
        if remaining <= 0:
            break
        take = min(r.qty, remaining)
        remaining -= take
        if take == r.qty:
            await conn.execute(
                res.update()
                .where(res.c.id == r.id, res.c.status == "reserved")
                .values(status="released", updated_at=now)
            )
            released_id = r.id
        else:  # split: keep the rest reserved, release exactly `take` units
            await conn.execute(
                res.update().where(res.c.id == r.id).values(qty=r.qty - take, updated_at=now)
            )
            ins = await conn.execute(
                res.insert()
                .values(
                    order_id=r.order_id,
                    route_attempt=r.route_attempt,
                    shipment_id=r.shipment_id,
                    line_id=r.line_id,
                    node_id=r.node_id,
                    sku=r.sku,
                    qty=take,
                    status="released",
                    created_at=now,
                    updated_at=now,
                )
                .returning(res.c.id)
            )
            released_id = ins.scalar_one()
        await conn.execute(
            pos.update()
            .where(pos.c.node_id == r.node_id, pos.c.sku == r.sku)
            .values(reserved=pos.c.reserved - take, updated_at=now)
        )
        await _movement(
            conn,
            now,
            r.node_id,
            r.sku,
            "release",
            reserved_delta=-take,
            order_id=r.order_id,
            reservation_id=released_id,
            reference=r.shipment_id,
            note=inp.reason,
        )
        released.append(ShipmentLine(line_id=r.line_id, sku=r.sku, qty=take))
        by_shipment[r.shipment_id] = by_shipment.get(r.shipment_id, 0) + take
    for shipment_id, units in sorted(by_shipment.items()):
        await capacity.give_back(conn, shipment_id, units)
    return ReleaseResult(released_units=sum(x.qty for x in released), released=released)


async def consume(engine: AsyncEngine, order_id: str, shipment_id: str) -> int:
    """Units left the building: reserved and on_hand both drop. Idempotent via the status guard."""
    now = utcnow()
    consumed = 0
    async with engine.begin() as conn:
        query = sa.select(res).where(
            res.c.order_id == order_id, res.c.shipment_id == shipment_id, res.c.status == "reserved"
        )
        for r in list(await conn.execute(_locking(conn, query))):
            done = await conn.execute(
                res.update()
                .where(res.c.id == r.id, res.c.status == "reserved")
                .values(status="consumed", updated_at=now)
            )
            if done.rowcount != 1:
                continue
            await conn.execute(
                pos.update()
                .where(pos.c.node_id == r.node_id, pos.c.sku == r.sku)
                .values(
                    on_hand=pos.c.on_hand - r.qty, reserved=pos.c.reserved - r.qty, updated_at=now
                )
            )
            await _movement(
                conn,
                now,
                r.node_id,
                r.sku,
                "consume",
                on_hand_delta=-r.qty,
                reserved_delta=-r.qty,
                order_id=order_id,
                reservation_id=r.id,
                reference=shipment_id,
                note="shipped",
            )
            consumed += r.qty
    return consumed


async def receive(engine: AsyncEngine, receipt: InventoryReceipt, kind: str = "receipt") -> bool:
    """Add stock at a node; False if this reference was already applied."""
    now = utcnow()
    try:
        async with engine.begin() as conn:
            await _check_known(conn, receipt.node, receipt.sku)
            if not await claim_key(conn, f"{kind}:{receipt.reference}", kind):
                return False
            updated = await conn.execute(
                pos.update()
                .where(pos.c.node_id == receipt.node, pos.c.sku == receipt.sku)
                .values(on_hand=pos.c.on_hand + receipt.qty, updated_at=now)
            )
            if updated.rowcount != 1:
                await conn.execute(
                    pos.insert().values(
                        node_id=receipt.node,
                        sku=receipt.sku,
                        on_hand=receipt.qty,
                        reserved=0,
                        safety_stock=0,
                        updated_at=now,
                    )
                )
            await _movement(
                conn,
                now,
                receipt.node,
                receipt.sku,
                kind,
                on_hand_delta=receipt.qty,
                reference=receipt.reference,
            )
            return True
    except IntegrityError:
        return False


async def _check_known(conn: AsyncConnection, node: str, sku: str) -> None:
    if (
        await conn.execute(sa.select(schema.nodes.c.id).where(schema.nodes.c.id == node))
    ).first() is None:
        raise ValueError(f"unknown node {node!r}")
    if (
        await conn.execute(sa.select(schema.skus.c.sku).where(schema.skus.c.sku == sku))
    ).first() is None:
        raise ValueError(f"unknown SKU {sku!r}")


async def atp_view(engine: AsyncEngine, sku: str) -> AtpView:
    async with engine.connect() as conn:
        positions = await read_positions(conn, [sku])
    rows = [
        AtpRow(
            node=p.node,
            on_hand=p.on_hand,
            reserved=p.reserved,
            held=p.held,
            safety_stock=p.safety_stock,
            atp=p.atp,
        )
        for p in positions
    ]
    return AtpView(
        sku=sku,
        nodes=rows,
        total_atp=sum(r.atp for r in rows),
        total_on_hand=sum(r.on_hand for r in rows),
        total_reserved=sum(r.reserved for r in rows),
        total_held=sum(r.held for r in rows),
    )


async def reservations_of(engine: AsyncEngine, order_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(res).where(res.c.order_id == order_id).order_by(res.c.id)
        )
        return [dict(r._mapping) for r in rows]


async def is_closed(conn: AsyncConnection, order_id: str) -> bool:
    closures = schema.order_closures
    row = await conn.execute(sa.select(closures.c.order_id).where(closures.c.order_id == order_id))
    return row.first() is not None


async def close_order(engine: AsyncEngine, inp: CloseOrderInput) -> CloseOrderResult:
    """Close an order in the ledger: release every reservation it still holds in `reserved` (with
    movements, as release does) and record the closure, in one transaction. A repeat returns the
    first result and changes nothing."""
    closures = schema.order_closures
    try:
        async with engine.begin() as conn:
            if (done := await _closure(conn, inp.order_id)) is not None:
                return done
            now = utcnow()
            query = sa.select(res).where(res.c.order_id == inp.order_id, res.c.status == "reserved")
            released: list[ReleasedReservation] = []
            for r in list(await conn.execute(_locking(conn, query.order_by(res.c.id)))):
                done_row = await conn.execute(
                    res.update()
                    .where(res.c.id == r.id, res.c.status == "reserved")
                    .values(status="released", updated_at=now)
                )
                if done_row.rowcount != 1:
                    continue
                moved = await conn.execute(
                    pos.update()
                    .where(pos.c.node_id == r.node_id, pos.c.sku == r.sku, pos.c.reserved >= r.qty)
                    .values(reserved=pos.c.reserved - r.qty, updated_at=now)
                )
                if moved.rowcount != 1:
                    raise LedgerInconsistent(
                        f"order {inp.order_id}: reservation {r.id} holds {r.qty} x {r.sku} at "
                        f"{r.node_id}, but that position has fewer units reserved (see "
                        "`dom inventory verify`)"
                    )
                await _movement(
                    conn,
                    now,
                    r.node_id,
                    r.sku,
                    "release",
                    reserved_delta=-r.qty,
                    order_id=r.order_id,
                    reservation_id=r.id,
                    reference=r.shipment_id,
                    note=f"order closed ({inp.status}): {inp.reason}",
                )
                released.append(
                    ReleasedReservation(
                        shipment_id=r.shipment_id,
                        line_id=r.line_id,
                        node=r.node_id,
                        sku=r.sku,
                        qty=r.qty,
                    )
                )
            by_shipment: dict[str, int] = {}
            for x in released:
                by_shipment[x.shipment_id] = by_shipment.get(x.shipment_id, 0) + x.qty
            for shipment_id, units in sorted(by_shipment.items()):
                await capacity.give_back(conn, shipment_id, units)
            result = CloseOrderResult(
                order_id=inp.order_id,
                status=inp.status,
                released_units=sum(x.qty for x in released),
                released=released,
            )
            await conn.execute(
                closures.insert().values(
                    order_id=inp.order_id,
                    status=inp.status,
                    reason=inp.reason[:500],
                    closed_at=now,
                    released_units=result.released_units,
                    result=result.model_dump(mode="json"),
                )
            )
            return result
    except IntegrityError:
        # A concurrent close of the same order committed first; its result stands.
        async with engine.connect() as conn:
            if (done := await _closure(conn, inp.order_id)) is not None:
                return done
        raise


async def _closure(conn: AsyncConnection, order_id: str) -> CloseOrderResult | None:
    closures = schema.order_closures
    row = await conn.execute(sa.select(closures.c.result).where(closures.c.order_id == order_id))
    stored = row.scalar_one_or_none()
    return CloseOrderResult.model_validate(stored) if stored is not None else None
