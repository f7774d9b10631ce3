"""Partner inventory feeds: a node reports its on-hand as a snapshot (absolute) or a delta.

A feed changes `on_hand` only -- never `reserved` -- and is applied exactly once per feed id, all
of it or none of it. A report below what is already reserved cannot be stored as-is (reserved <=
on_hand is a database invariant, and those units are promised to customers), so on_hand is
clamped at `reserved` and the item is returned as a shortfall for a person to resolve.
"""

from __future__ import annotations

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
KEY_KIND = "inventory-feed"


class FeedRejected(ValueError):
    """The feed is inconsistent (unknown node or SKU, wrong fields for its mode); nothing applied."""


class FeedChange(BaseModel):
    sku: str
    on_hand_before: int
    on_hand_after: int
    reserved: int


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
    if problems:
        raise FeedRejected("; ".join(problems))


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
    result = FeedResult(feed_id=feed.feed_id, node=feed.node, mode=feed.mode)
    query = sa.select(pos.c.sku, pos.c.on_hand, pos.c.reserved).where(
        pos.c.node_id == feed.node, pos.c.sku.in_([i.sku for i in feed.items])
    )
    # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL needs row locks so a
    # concurrent reservation cannot slip between our read and our write.
    if not is_sqlite(str(conn.engine.url)):
        query = query.with_for_update()
    current = {r.sku: (r.on_hand, r.reserved) for r in await conn.execute(query)}
    for item in feed.items:
        before, reserved = current.get(item.sku, (0, 0))
        if feed.mode == "snapshot":
            assert item.on_hand is not None  # check_feed
            reported = item.on_hand
        else:
            assert item.delta is not None
            reported = before + item.delta
        after = max(reported, reserved)  # also >= 0, since reserved >= 0
        note = f"{feed.mode} feed {feed.feed_id}"
        if reported < reserved:
            detail = (
                f"{feed.node} reports {reported} x {item.sku} but {reserved} are reserved for "
                f"orders; on_hand kept at {reserved} until someone resolves the shortfall"
            )
            result.shortfalls.append(
                Shortfall(sku=item.sku, reported_on_hand=reported, reserved=reserved, detail=detail)
            )
            note += f"; clamped: reported {reported} below reserved {reserved}"
        changed = after != before  # a new position at 0 is no change either
        if item.sku not in current and changed:
            await conn.execute(
                pos.insert().values(
                    node_id=feed.node,
                    sku=item.sku,
                    on_hand=after,
                    reserved=0,
                    safety_stock=0,
                    updated_at=now,
                )
            )
        elif changed:
            await conn.execute(
                pos.update()
                .where(pos.c.node_id == feed.node, pos.c.sku == item.sku)
                .values(on_hand=after, updated_at=now)
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
    return result
