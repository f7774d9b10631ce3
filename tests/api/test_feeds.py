"""apply_feed on SQLite and PostgreSQL: atomic, exactly once, never touching reservations."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.feeds import FeedRejected, apply_feed
from dom_workflows.partners.models import InventoryFeed

pos = schema.inventory_positions


async def _pos(engine: AsyncEngine, node: str, sku: str) -> tuple[int, int] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(pos.c.on_hand, pos.c.reserved).where(
                    pos.c.node_id == node, pos.c.sku == sku
                )
            )
        ).first()
    return (row.on_hand, row.reserved) if row else None


def _feed(mode: str, items: list[dict[str, object]], node: str = "wh-reno") -> InventoryFeed:
    return InventoryFeed.model_validate(
        {"feed_id": f"f-{uuid.uuid4().hex[:8]}", "node": node, "mode": mode, "items": items}
    )


async def test_concurrent_deliveries_apply_once(ledger_engine: AsyncEngine) -> None:
    before = await _pos(ledger_engine, "wh-reno", "FLEECE-M")
    assert before is not None
    feed = _feed("delta", [{"sku": "FLEECE-M", "delta": 5}])
    results = await asyncio.gather(*(apply_feed(ledger_engine, feed) for _ in range(4)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert await _pos(ledger_engine, "wh-reno", "FLEECE-M") == (before[0] + 5, before[1])


async def test_a_bad_item_refuses_the_whole_feed(ledger_engine: AsyncEngine) -> None:
    before = await _pos(ledger_engine, "wh-reno", "FLEECE-M")
    feed = _feed("snapshot", [{"sku": "FLEECE-M", "on_hand": 1}, {"sku": "NOPE", "on_hand": 1}])
    with pytest.raises(FeedRejected, match="NOPE"):
        await apply_feed(ledger_engine, feed)
    assert await _pos(ledger_engine, "wh-reno", "FLEECE-M") == before
    # The feed id was not burnt by the refusal.
    fixed = feed.model_copy(update={"items": feed.items[:1]})
    assert (await apply_feed(ledger_engine, fixed)).duplicate is False


async def test_new_positions_and_negative_deltas_are_clamped(ledger_engine: AsyncEngine) -> None:
    async with ledger_engine.connect() as conn:
        stocked = set(
            (
                await conn.execute(sa.select(pos.c.sku).where(pos.c.node_id == "ds-portland"))
            ).scalars()
        )
        sku = next(
            s
            for s in (await conn.execute(sa.select(schema.skus.c.sku))).scalars()
            if s not in stocked
        )
    result = await apply_feed(
        ledger_engine, _feed("delta", [{"sku": sku, "delta": -3}], node="ds-portland")
    )
    assert [s.reported_on_hand for s in result.shortfalls] == [-3]
    assert await _pos(ledger_engine, "ds-portland", sku) is None  # nothing to store at 0
    await apply_feed(
        ledger_engine, _feed("snapshot", [{"sku": sku, "on_hand": 4}], node="ds-portland")
    )
    assert await _pos(ledger_engine, "ds-portland", sku) == (4, 0)
