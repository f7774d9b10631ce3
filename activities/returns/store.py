"""RMAs in the DOM database. Over-return protection lives here, not in any workflow: two RMAs
of the same order opened at the same moment (two API requests, the CLI and a channel) are
serialised per order and each insert is conditional on what is still returnable, so the units
on open or received RMAs of an order line never exceed the units delivered.

* SQLite: every transaction is BEGIN IMMEDIATE (activities.inventory.db), i.e. one writer.
* PostgreSQL: a transaction-scoped advisory lock per order (`pg_advisory_xact_lock`), taken
  before anything is read; it also covers the first RMA of an order, when no row exists yet
  that `SELECT ... FOR UPDATE` could lock.
* Both: every return line is an `INSERT ... SELECT ... WHERE used + qty <= delivered`: the
  check and the write are one statement, evaluated against what is committed under the lock
  (the lock is what makes it safe on PostgreSQL's READ COMMITTED; the condition keeps a read
  made earlier in the transaction from ever being trusted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from activities.inventory.db import is_sqlite, utcnow
from dom_workflows.common.text import count
from dom_workflows.returns.models import GRADES, GradedLine, ReturnAllocation

rh = schema.returns
rl = schema.return_lines


class OverReturn(Exception):
    """More units asked back than were delivered and are not already returned or on an open RMA."""


class RmaTaken(Exception):
    """The RMA id is held by a different request (the caller takes the next number)."""


@dataclass(frozen=True)
class Delivered:
    """Units of an order line delivered in one shipment (and the capture that charged them)."""

    line_id: str
    shipment_id: str
    qty: int
    capture_id: str | None = None


@dataclass(frozen=True)
class RmaLine:
    line_id: str
    sku: str
    qty: int
    reason: str = ""


async def _lock_order(conn: AsyncConnection, order_id: str) -> None:
    if is_sqlite(str(conn.engine.url)):
        return  # BEGIN IMMEDIATE already made this the only writer
    await conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"returns:{order_id}"},
    )


def _used(order_id: str, line_id: str, shipment_id: str) -> Any:
    """Units of (order, line, shipment) on open RMAs or received back."""
    counted = sa.case(
        (rl.c.status == "opened", rl.c.qty),
        (rl.c.status == "received", rl.c.received_qty),
        else_=0,
    )
    return (
        sa.select(sa.func.coalesce(sa.func.sum(counted), 0))
        .where(rl.c.order_id == order_id, rl.c.line_id == line_id, rl.c.shipment_id == shipment_id)
        .scalar_subquery()
    )


def _lit(conn: AsyncConnection, value: Any, type_: Any) -> Any:
    param = sa.bindparam(None, value, type_=type_)
    if is_sqlite(str(conn.engine.url)):
        return param  # (a CAST to DATETIME would turn SQLite's ISO text into a number)
    # PostgreSQL (asyncpg) needs each parameter's type inside INSERT ... SELECT.
    return sa.cast(param, type_)


async def open_rma(
    engine: AsyncEngine,
    *,
    rma_id: str,
    order_id: str,
    seq: int,
    exchange: bool,
    lines: list[RmaLine],
    delivered: list[Delivered],
) -> dict[str, list[ReturnAllocation]]:
    """Record the RMA and tie each line's units to delivered shipments (oldest first), or raise
    OverReturn and record nothing. A retry of the same request returns what was recorded."""
    try:
        async with engine.begin() as conn:
            await _lock_order(conn, order_id)
            existing = (await conn.execute(sa.select(rh).where(rh.c.rma_id == rma_id))).first()
            if existing is not None:
                return await _same_request(conn, existing, order_id, seq, lines)
            now = utcnow()
            await conn.execute(
                rh.insert().values(
                    rma_id=rma_id,
                    order_id=order_id,
                    seq=seq,
                    status="opened",
                    exchange=exchange,
                    created_at=now,
                    updated_at=now,
                )
            )
            out: dict[str, list[ReturnAllocation]] = {}
            for ln in lines:
                out[ln.line_id] = await _allocate(conn, rma_id, order_id, ln, delivered, now)
            return out
    except IntegrityError as e:
        raise RmaTaken(f"{rma_id} (or its number for order {order_id}) is taken: {e.orig}") from e


async def _allocate(
    conn: AsyncConnection,
    rma_id: str,
    order_id: str,
    ln: RmaLine,
    delivered: list[Delivered],
    now: datetime,
) -> list[ReturnAllocation]:
    remaining = ln.qty
    got: list[ReturnAllocation] = []
    total_delivered = 0
    for d in (d for d in delivered if d.line_id == ln.line_id):
        total_delivered += d.qty
        used = (await conn.execute(sa.select(_used(order_id, ln.line_id, d.shipment_id)))).scalar()
        take = min(remaining, d.qty - int(used or 0))
        if take <= 0:
            continue
        inserted = await conn.execute(
            rl.insert()
            .from_select(
                [
                    "rma_id",
                    "order_id",
                    "line_id",
                    "sku",
                    "shipment_id",
                    "capture_id",
                    "qty",
                    "status",
                    "reason",
                    "created_at",
                    "updated_at",
                ],
                sa.select(
                    _lit(conn, rma_id, sa.String(160)),
                    _lit(conn, order_id, sa.String(120)),
                    _lit(conn, ln.line_id, sa.String(64)),
                    _lit(conn, ln.sku, sa.String(64)),
                    _lit(conn, d.shipment_id, sa.String(200)),
                    _lit(conn, d.capture_id, sa.String(200)),
                    _lit(conn, take, sa.Integer()),
                    _lit(conn, "opened", sa.String(16)),
                    _lit(conn, ln.reason[:500], sa.String(500)),
                    _lit(conn, now, sa.DateTime(timezone=True)),
                    _lit(conn, now, sa.DateTime(timezone=True)),
                ).where(_used(order_id, ln.line_id, d.shipment_id) + take <= d.qty),
            )
            .returning(rl.c.id)
        )
        if inserted.first() is None:  # only reachable without the per-order lock
            raise OverReturn(f"line {ln.line_id}: units of {d.shipment_id} were taken meanwhile")
        remaining -= take
        got.append(ReturnAllocation(shipment_id=d.shipment_id, qty=take, capture_id=d.capture_id))
    if remaining:
        free = ln.qty - remaining
        raise OverReturn(
            f"line {ln.line_id}: {count(ln.qty, 'unit')} asked back but only {free} of the "
            f"{total_delivered} delivered are not already returned or on an open RMA"
        )
    return got


async def _same_request(
    conn: AsyncConnection, existing: Any, order_id: str, seq: int, lines: list[RmaLine]
) -> dict[str, list[ReturnAllocation]]:
    rows = list(
        await conn.execute(sa.select(rl).where(rl.c.rma_id == existing.rma_id).order_by(rl.c.id))
    )
    stored: dict[str, int] = {}
    out: dict[str, list[ReturnAllocation]] = {}
    for r in rows:
        stored[r.line_id] = stored.get(r.line_id, 0) + r.qty
        out.setdefault(r.line_id, []).append(
            ReturnAllocation(shipment_id=r.shipment_id, qty=r.qty, capture_id=r.capture_id)
        )
    asked = {ln.line_id: ln.qty for ln in lines}
    if (existing.order_id, existing.seq) != (order_id, seq) or stored != asked:
        raise RmaTaken(f"{existing.rma_id} already exists for another request")
    return out


async def record_receipt(engine: AsyncEngine, rma_id: str, graded: list[GradedLine]) -> bool:
    """Mark the RMA's lines received with their grades (units not received are released from
    the RMA). False if it was already recorded (a retry)."""
    by_line = {g.line_id: g for g in graded}
    now = utcnow()
    async with engine.begin() as conn:
        rows = list(
            await conn.execute(
                sa.select(rl)
                .where(rl.c.rma_id == rma_id, rl.c.status == "opened")
                .order_by(rl.c.id)
            )
        )
        if not rows:
            return False
        left: dict[str, dict[str, int]] = {
            g.line_id: {name: getattr(g, name) for name in GRADES} for g in graded
        }
        for r in rows:
            room = r.qty
            counts = dict.fromkeys(GRADES, 0)
            pool = left.get(r.line_id) if r.line_id in by_line else None
            for name in GRADES:
                if pool is None or room == 0:
                    break
                take = min(pool[name], room)
                pool[name] -= take
                counts[name] = take
                room -= take
            await conn.execute(
                rl.update()
                .where(rl.c.id == r.id, rl.c.status == "opened")
                .values(
                    status="received",
                    received_qty=sum(counts.values()),
                    updated_at=now,
                    **counts,
                )
            )
        await conn.execute(
            rh.update().where(rh.c.rma_id == rma_id).values(status="received", updated_at=now)
        )
        return True


async def expire(engine: AsyncEngine, rma_id: str) -> int:
    """The window closed without a receipt: the RMA's units are no longer expected back."""
    now = utcnow()
    async with engine.begin() as conn:
        rows = list(
            await conn.execute(
                sa.select(rl.c.qty).where(rl.c.rma_id == rma_id, rl.c.status == "opened")
            )
        )
        await conn.execute(
            rl.update()
            .where(rl.c.rma_id == rma_id, rl.c.status == "opened")
            .values(status="expired", updated_at=now)
        )
        await conn.execute(
            rh.update().where(rh.c.rma_id == rma_id).values(status="expired", updated_at=now)
        )
        return sum(r.qty for r in rows)


async def close(engine: AsyncEngine, rma_id: str, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            rh.update().where(rh.c.rma_id == rma_id).values(status=status[:16], updated_at=utcnow())
        )


async def lines_of(engine: AsyncEngine, rma_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(rl).where(rl.c.rma_id == rma_id).order_by(rl.c.id))
        return [dict(r._mapping) for r in rows]


async def header(engine: AsyncEngine, rma_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(rh).where(rh.c.rma_id == rma_id))).first()
        return dict(row._mapping) if row is not None else None
