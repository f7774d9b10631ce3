"""apply_feed on SQLite and PostgreSQL: atomic, exactly once, never touching reservations."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from activities.inventory.db import utcnow
from activities.inventory.feeds import FeedRejected, apply_feed
from dom_workflows.inventory.models import InventoryReceipt
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


def _snapshot(on_hand: int, as_of: datetime | None, node: str = "wh-reno") -> InventoryFeed:
    feed = _feed("snapshot", [{"sku": "TREK-POLES", "on_hand": on_hand}], node=node)
    return feed.model_copy(update={"as_of": as_of})


async def _ship(engine: AsyncEngine, order: str, qty: int) -> None:
    async with engine.begin() as conn:
        await ledger.reserve(
            conn,
            order,
            1,
            [ledger.Allocation(f"{order}:1:wh-reno", "wh-reno", "TREK-POLES", "1", qty)],
        )
    assert await ledger.consume(engine, order, f"{order}:1:wh-reno") == qty


async def test_a_snapshot_counted_before_a_shipment_keeps_it_shipped(
    ledger_engine: AsyncEngine,
) -> None:
    await apply_feed(ledger_engine, _snapshot(150, utcnow()))
    await asyncio.sleep(0.01)
    assert await _pos(ledger_engine, "wh-reno", "TREK-POLES") == (150, 0)
    counted_at = utcnow()
    await asyncio.sleep(0.01)
    await _ship(ledger_engine, "S-1", 4)
    assert await _pos(ledger_engine, "wh-reno", "TREK-POLES") == (146, 0)
    # The node counted 150 before the 4 left and reports it afterwards: still 146, not 150.
    result = await apply_feed(ledger_engine, _snapshot(150, counted_at))
    assert await _pos(ledger_engine, "wh-reno", "TREK-POLES") == (146, 0)
    assert [(c.counted, c.moved_since_count) for c in result.counts] == [(150, -4)]


async def test_receipts_after_the_count_add_and_older_snapshots_are_ignored(
    ledger_engine: AsyncEngine,
) -> None:
    counted_at = utcnow()
    await asyncio.sleep(0.01)
    await ledger.receive(
        ledger_engine, InventoryReceipt(node="wh-reno", sku="TREK-POLES", qty=10, reference="A")
    )
    await apply_feed(ledger_engine, _snapshot(100, counted_at))
    assert await _pos(ledger_engine, "wh-reno", "TREK-POLES") == (110, 0)
    # Counted before the snapshot just applied: ignored, nothing changes.
    stale = await apply_feed(ledger_engine, _snapshot(7, counted_at - timedelta(seconds=1)))
    assert [i.sku for i in stale.ignored] == ["TREK-POLES"] and stale.changes == []
    assert await _pos(ledger_engine, "wh-reno", "TREK-POLES") == (110, 0)
    # Without as_of the count is taken as current (the time the DOM receives it).
    await apply_feed(ledger_engine, _snapshot(60, None))
    assert await _pos(ledger_engine, "wh-reno", "TREK-POLES") == (60, 0)


async def test_as_of_in_the_future_or_on_a_delta_is_refused(ledger_engine: AsyncEngine) -> None:
    with pytest.raises(FeedRejected, match="future"):
        await apply_feed(ledger_engine, _snapshot(1, utcnow() + timedelta(hours=1)))
    delta = _feed("delta", [{"sku": "TREK-POLES", "delta": 1}]).model_copy(
        update={"as_of": utcnow()}
    )
    with pytest.raises(FeedRejected, match="snapshots only"):
        await apply_feed(ledger_engine, delta)
