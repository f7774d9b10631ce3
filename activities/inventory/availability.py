"""Per-SKU availability bookkeeping, done inside the transaction that moved the stock, and the
change feed read from it.

`touch` bumps the SKU's version (any position change: the promise cache's key) and, when the
network-wide ATP moved, appends one row to the change feed that storefronts poll or receive.

Feed order: a change row gets its feed position (`seq`) only once committed, from `sequence`,
which runs one at a time. Numbering at insert instead would let a reader that paged past seq 7
miss a seq 5 whose transaction committed after 7's: with late numbering a later commit always
gets a higher seq, so `seq > since` never skips anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema

pos = schema.inventory_positions
avail = schema.sku_availability
changes = schema.availability_changes

# pg_advisory_xact_lock key of the sequencer ("avail" in ASCII); SQLite's BEGIN IMMEDIATE
# already lets one writer in at a time.
SEQUENCER_LOCK = 0x617661696C
SEQUENCE_BATCH = 5000
MAX_PAGE = 1000


def _now() -> datetime:
    return datetime.now(UTC)


def atp_expression() -> sa.ColumnElement[int]:
    """Per position: on_hand - reserved - held - safety_stock, floored at 0."""
    raw = pos.c.on_hand - pos.c.reserved - pos.c.held - pos.c.safety_stock
    return sa.case((raw > 0, raw), else_=0)


async def network_atp(conn: AsyncConnection, sku: str) -> int:
    total = await conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(atp_expression()), 0)).where(pos.c.sku == sku)
    )
    return int(total.scalar_one())


def _insert_ignoring_duplicates(conn: AsyncConnection) -> sa.Insert:
    """INSERT that leaves an existing row alone (two transactions may both find none)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(avail).on_conflict_do_nothing(index_elements=["sku"])
    return sqlite.insert(avail).on_conflict_do_nothing(index_elements=["sku"])


async def _lock_and_bump(conn: AsyncConnection, sku: str, now: datetime) -> int | None:
    bumped = await conn.execute(
        avail.update()
        .where(avail.c.sku == sku)
        .values(version=avail.c.version + 1, updated_at=now)
        .returning(avail.c.atp)
    )
    previous = bumped.scalar_one_or_none()
    return None if previous is None else int(previous)


async def touch(conn: AsyncConnection, skus: Iterable[str], cause: str) -> None:
    """Record that these SKUs' positions changed in the caller's transaction."""
    now = _now()
    for sku in sorted(set(skus)):
        # Lock the SKU's row first, then measure: a transaction that moved the same SKU and
        # committed while we waited is then in our (per-statement, READ COMMITTED) count, so the
        # last change published carries the ATP after both.
        previous = await _lock_and_bump(conn, sku, now)
        if previous is None:
            # A SKU seeding missed. Start it at 0 (a first receipt is then a change); a
            # concurrent transaction inserting the same row leaves ours a no-op, not an error.
            await conn.execute(
                _insert_ignoring_duplicates(conn).values(sku=sku, version=0, atp=0, updated_at=now)
            )
            previous = await _lock_and_bump(conn, sku, now)
            assert previous is not None
        atp = await network_atp(conn, sku)
        if previous != atp:
            await conn.execute(avail.update().where(avail.c.sku == sku).values(atp=atp))
            await conn.execute(changes.insert().values(sku=sku, atp=atp, at=now, cause=cause[:32]))


async def seed(conn: AsyncConnection, skus: Iterable[str]) -> int:
    """Give SKUs without a row one at their current ATP (no change is published: nothing moved).
    Returns rows created."""
    wanted = sorted(set(skus))
    have = set(
        (await conn.execute(sa.select(avail.c.sku).where(avail.c.sku.in_(wanted)))).scalars()
    )
    now = _now()
    created = 0
    for sku in wanted:
        if sku in have:
            continue
        atp = await network_atp(conn, sku)
        inserted = await conn.execute(
            _insert_ignoring_duplicates(conn).values(sku=sku, version=0, atp=atp, updated_at=now)
        )
        created += inserted.rowcount or 0
    return created


async def versions(conn: AsyncConnection, skus: Iterable[str]) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(avail.c.sku, avail.c.version).where(avail.c.sku.in_(sorted(set(skus))))
    )
    return {r.sku: r.version for r in rows}


# --- the feed ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    seq: int
    sku: str
    atp: int
    at: datetime
    cause: str


async def sequence(engine: AsyncEngine) -> int:
    """Number the committed changes that have no feed position yet, in insertion order, after
    the last numbered one. One sequencer at a time; rows still uncommitted are invisible here
    and numbered by a later call. Returns the feed's head (its highest seq, 0 when empty)."""
    async with engine.connect() as conn:
        # Most polls find nothing new: answer those without the lock and the write.
        unnumbered = await conn.execute(
            sa.select(changes.c.id).where(changes.c.seq.is_(None)).limit(1)
        )
        if unnumbered.first() is None:
            top = await conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0)))
            return int(top.scalar_one())
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SEQUENCER_LOCK)))
        head = int(
            (
                await conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0)))
            ).scalar_one()
        )
        ids = (
            (
                await conn.execute(
                    sa.select(changes.c.id)
                    .where(changes.c.seq.is_(None))
                    .order_by(changes.c.id)
                    .limit(SEQUENCE_BATCH)
                )
            )
            .scalars()
            .all()
        )
        if ids:
            await conn.execute(
                changes.update()
                .where(changes.c.id == sa.bindparam("row_id"))
                .values(seq=sa.bindparam("new_seq")),
                [{"row_id": i, "new_seq": head + n} for n, i in enumerate(ids, start=1)],
            )
        return head + len(ids)


async def read_changes(
    engine: AsyncEngine, since: int, limit: int, *, through: int | None = None
) -> list[Change]:
    """Numbered changes after `since` (and up to `through`), oldest first, at most `limit`."""
    query = sa.select(changes).where(changes.c.seq > since)
    if through is not None:
        query = query.where(changes.c.seq <= through)
    async with engine.connect() as conn:
        rows = await conn.execute(query.order_by(changes.c.seq).limit(limit))
        return [Change(r.seq, r.sku, r.atp, _aware(r.at), r.cause) for r in rows]


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def available(atp: int, safety_buffer: int) -> int:
    """What a channel is told it can sell: ATP less its safety buffer, never below 0."""
    return max(0, atp - safety_buffer)
