"""Partner inventory feeds: a node reports its on-hand as a snapshot (absolute) or a delta.

A feed changes `on_hand` only -- never `reserved` -- and is applied exactly once per feed id, all
of it or none of it. A report below what is already reserved cannot be stored as-is (reserved <=
on_hand is a database invariant, and those units are promised to customers), so on_hand is
clamped at `reserved` and the item is returned as a shortfall for a person to resolve.

A snapshot is a count taken at `as_of` (default: when the DOM receives it). Stock kept moving
after the count -- a consumption recorded after `as_of` is not in the counted units -- so the
new on_hand = counted + Σ on_hand_delta of the position's movements recorded after `as_of`
(except earlier snapshot corrections, which this count supersedes). A snapshot whose `as_of` is
older than the last snapshot applied to the position is ignored for that position and listed
under `ignored`; the rest of the feed still applies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from activities.inventory.db import is_sqlite, utcnow
from activities.inventory.ledger import _movement, claim_key, stored_result
from dom_workflows.partners.models import InventoryFeed

pos = schema.inventory_positions
mov = schema.movements
KEY_KIND = "inventory-feed"
# A count cannot come from the future; allow this much clock skew between a node and the DOM.
MAX_AS_OF_SKEW = timedelta(minutes=5)


class FeedRejected(ValueError):
    """The feed is inconsistent (unknown node or SKU, wrong fields for its mode); nothing applied."""


class FeedChange(BaseModel):
    sku: str
    on_hand_before: int
    on_hand_after: int
    reserved: int


class SnapshotCount(BaseModel):
    """How a snapshot item was reconciled: on_hand = counted + moved_since_count (then clamped
    at reserved)."""

    sku: str
    counted: int  # the units the node counted at as_of
    as_of: datetime
    moved_since_count: int  # Σ on_hand_delta the DOM recorded after as_of


class IgnoredItem(BaseModel):
    sku: str
    detail: str


class Shortfall(BaseModel):
    sku: str
    reported_on_hand: int
    reserved: int
    detail: str


class FeedResult(BaseModel):
    feed_id: str
    node: str
    mode: Literal["snapshot", "delta"]
    duplicate: bool = False  # True: this feed id was applied before; this is that result
    changes: list[FeedChange] = Field(default_factory=list)
    shortfalls: list[Shortfall] = Field(default_factory=list)
    counts: list[SnapshotCount] = Field(default_factory=list)  # snapshots: the reconciliation
    ignored: list[IgnoredItem] = Field(default_factory=list)  # stale snapshot items


def feed_key(feed_id: str) -> str:
    return f"{KEY_KIND}:{feed_id}"


def check_feed(feed: InventoryFeed) -> None:
    """Shape rules the model cannot express: each item carries exactly its mode's field."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(feed.items):
        if item.sku in seen:
            problems.append(f"items[{i}]: SKU {item.sku} appears twice")
        seen.add(item.sku)
        if feed.mode == "snapshot" and (item.on_hand is None or item.delta is not None):
            problems.append(f"items[{i}] ({item.sku}): a snapshot item needs on_hand and no delta")
        if feed.mode == "delta" and (item.delta is None or item.on_hand is not None):
            problems.append(f"items[{i}] ({item.sku}): a delta item needs delta and no on_hand")
    if feed.as_of is not None:
        if feed.mode != "snapshot":
            problems.append("as_of belongs to snapshots only; a delta is applied when received")
        elif feed.as_of > utcnow() + MAX_AS_OF_SKEW:
            problems.append(f"as_of {feed.as_of.isoformat()} is in the future")
    if problems:
        raise FeedRejected("; ".join(problems))


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def _moved_since(conn: AsyncConnection, node: str, sku: str, as_of: datetime) -> int:
    total = await conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(mov.c.on_hand_delta), 0)).where(
            mov.c.node_id == node,
            mov.c.sku == sku,
            mov.c.at > as_of,
            mov.c.kind != "snapshot",
        )
    )
    return int(total.scalar_one())


async def _check_known(conn: AsyncConnection, feed: InventoryFeed) -> None:
    node = await conn.execute(sa.select(schema.nodes.c.id).where(schema.nodes.c.id == feed.node))
    if node.first() is None:
        raise FeedRejected(f"unknown node {feed.node!r}")
    skus = {i.sku for i in feed.items}
    known = set(
        (
            await conn.execute(sa.select(schema.skus.c.sku).where(schema.skus.c.sku.in_(skus)))
        ).scalars()
    )
    if unknown := sorted(skus - known):
        raise FeedRejected(f"unknown SKUs {unknown}: nothing in this feed was applied")


async def apply_feed(engine: AsyncEngine, feed: InventoryFeed) -> FeedResult:
    """Apply a feed once. A redelivered feed id returns the first result with duplicate=True."""
    check_feed(feed)
    key = feed_key(feed.feed_id)
    try:
        async with engine.begin() as conn:
            await _check_known(conn, feed)
            if not await claim_key(conn, key, KEY_KIND):
                return await _previous(conn, key)
            result = await _apply(conn, feed)
            await conn.execute(
                schema.applied_keys.update()
                .where(schema.applied_keys.c.key == key)
                .values(result=result.model_dump(mode="json"))
            )
            return result
    except IntegrityError:
        # A concurrent delivery of the same feed claimed the key first; its result stands.
        async with engine.connect() as conn:
            return await _previous(conn, key)


async def _previous(conn: AsyncConnection, key: str) -> FeedResult:
    stored = await stored_result(conn, key)
    return FeedResult.model_validate({**stored, "duplicate": True})


async def _apply(conn: AsyncConnection, feed: InventoryFeed) -> FeedResult:
    now = utcnow()
    as_of = (feed.as_of or now).astimezone(UTC)
    result = FeedResult(feed_id=feed.feed_id, node=feed.node, mode=feed.mode)
    query = sa.select(
        pos.c.sku, pos.c.on_hand, pos.c.reserved, pos.c.held, pos.c.last_snapshot_at
    ).where(pos.c.node_id == feed.node, pos.c.sku.in_([i.sku for i in feed.items]))
    # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL needs row locks so a
    # concurrent reservation cannot slip between our read and our write.
    if not is_sqlite(str(conn.engine.url)):
        query = query.with_for_update()
    current = {
        r.sku: (r.on_hand, r.reserved, r.held, r.last_snapshot_at)
        for r in await conn.execute(query)
    }
    for item in feed.items:
        before, reserved, held, last_snapshot = current.get(item.sku, (0, 0, 0, None))
        counted: int | None = None
        moved = 0
        if feed.mode == "snapshot":
            assert item.on_hand is not None  # check_feed
            if last_snapshot is not None and as_of < _aware(last_snapshot):
                result.ignored.append(
                    IgnoredItem(
                        sku=item.sku,
                        detail=(
                            f"counted at {as_of.isoformat()}, before the snapshot already "
                            f"applied (counted at {_aware(last_snapshot).isoformat()}); ignored"
                        ),
                    )
                )
                continue
            counted = item.on_hand
            moved = await _moved_since(conn, feed.node, item.sku, as_of)
            reported = counted + moved
        else:
            assert item.delta is not None
            reported = before + item.delta
        # Units promised to orders or held in carts stay on hand (also >= 0).
        committed = reserved + held
        after = max(reported, committed)
        note = f"{feed.mode} feed {feed.feed_id}"
        if counted is not None:
            note += f"; counted {counted} at {as_of.isoformat()}, {moved:+d} moved since"
        if reported < committed:
            carts = f" and {held} held in carts" if held else ""
            detail = (
                f"{feed.node} reports {reported} x {item.sku} but {reserved} are reserved for "
                f"orders{carts}; on_hand kept at {committed} until someone resolves the "
                "shortfall"
            )
            result.shortfalls.append(
                Shortfall(sku=item.sku, reported_on_hand=reported, reserved=reserved, detail=detail)
            )
            note += f"; clamped: reported {reported} below reserved {reserved}{carts}"
        changed = after != before  # a new position at 0 is no change either
        snapshot_at = {"last_snapshot_at": as_of} if feed.mode == "snapshot" else {}
        if item.sku not in current and changed:
            await conn.execute(
                pos.insert().values(
                    node_id=feed.node,
                    sku=item.sku,
                    on_hand=after,
                    reserved=0,
                    safety_stock=0,
                    updated_at=now,
                    **snapshot_at,
                )
            )
        elif item.sku in current and (changed or snapshot_at):
            await conn.execute(
                pos.update()
                .where(pos.c.node_id == feed.node, pos.c.sku == item.sku)
                .values(on_hand=after, updated_at=now, **snapshot_at)
            )
        if changed:
            await _movement(
                conn,
                now,
                feed.node,
                item.sku,
                "snapshot" if feed.mode == "snapshot" else "adjustment",
                on_hand_delta=after - before,
                reference=feed.feed_id,
                note=note,
            )
        result.changes.append(
            FeedChange(sku=item.sku, on_hand_before=before, on_hand_after=after, reserved=reserved)
        )
        if counted is not None:
            result.counts.append(
                SnapshotCount(sku=item.sku, counted=counted, as_of=as_of, moved_since_count=moved)
            )
    return result
