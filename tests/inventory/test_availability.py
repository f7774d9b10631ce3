"""The availability bookkeeping behind the change feed, on both databases: one change per
movement that moves a SKU's network ATP (none when it does not), feed positions given in commit
order, rows for every SKU from the migration and the seeding, and concurrent transactions on
PostgreSQL that neither fail nor publish a stale ATP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import availability, ledger, schema
from activities.inventory.db import MIGRATIONS, seed_network
from dom_workflows.inventory.models import InventoryReceipt, ReleaseInput
from dom_workflows.network import InventorySeed, Network, SkuConfig

SKU = "TREK-POLES"
OTHER = "TENT-2P"


async def total_atp(engine: AsyncEngine, sku: str = SKU) -> int:
    return (await ledger.atp_view(engine, sku)).total_atp


async def feed(engine: AsyncEngine, since: int = 0) -> list[availability.Change]:
    await availability.sequence(engine)
    return await availability.read_changes(engine, since, availability.MAX_PAGE)


async def reserve(engine: AsyncEngine, order: str, node: str, qty: int, sku: str = SKU) -> None:
    async with engine.begin() as conn:
        await ledger.reserve(
            conn, order, 1, [ledger.Allocation(f"{order}:{node}", node, sku, "1", qty)]
        )


async def test_reserve_receipt_and_release_each_publish_one_change_with_the_new_atp(
    ledger_engine: AsyncEngine,
) -> None:
    start = await total_atp(ledger_engine)
    assert await feed(ledger_engine) == []  # seeding publishes nothing: nothing moved

    await reserve(ledger_engine, "O-1", "wh-reno", 3)
    [reserved] = await feed(ledger_engine)
    assert (reserved.sku, reserved.atp, reserved.cause) == (SKU, start - 3, "reserve")
    assert reserved.atp == await total_atp(ledger_engine)

    receipt = InventoryReceipt(node="wh-dallas", sku=SKU, qty=10, reference="po-1")
    assert await ledger.receive(ledger_engine, receipt)
    assert not await ledger.receive(ledger_engine, receipt)  # a repeat moves nothing
    [received] = await feed(ledger_engine, reserved.seq)
    assert (received.atp, received.cause) == (start + 7, "receipt")

    release = ReleaseInput(order_id="O-1", reason="cancelled", idempotency_key="rel-1")
    assert (await ledger.release(ledger_engine, release)).released_units == 3
    [released] = await feed(ledger_engine, received.seq)
    assert released.atp == start + 10 == await total_atp(ledger_engine)
    assert [c.seq for c in await feed(ledger_engine)] == [1, 2, 3]


async def test_a_consume_changes_no_atp_and_publishes_nothing_but_bumps_the_version(
    ledger_engine: AsyncEngine,
) -> None:
    await reserve(ledger_engine, "O-2", "wh-dallas", 4)
    before = await feed(ledger_engine)
    async with ledger_engine.connect() as conn:
        version = (await availability.versions(conn, [SKU]))[SKU]
    assert await ledger.consume(ledger_engine, "O-2", "O-2:wh-dallas") == 4
    assert await feed(ledger_engine) == before
    async with ledger_engine.connect() as conn:
        assert (await availability.versions(conn, [SKU]))[SKU] == version + 1


async def test_a_change_at_a_position_whose_atp_is_floored_publishes_nothing(
    ledger_engine: AsyncEngine,
) -> None:
    # store-la holds 2 TREK-POLES, both safety stock: its ATP is 0 before and after one more
    # unit leaves on_hand (a count correction), so the network ATP does not move.
    async with ledger_engine.begin() as conn:
        await conn.execute(
            schema.inventory_positions.update()
            .where(
                schema.inventory_positions.c.node_id == "store-la",
                schema.inventory_positions.c.sku == SKU,
            )
            .values(on_hand=1)
        )
        await availability.touch(conn, [SKU], "adjust")
    assert await feed(ledger_engine) == []


async def test_feed_positions_follow_commit_order_not_insert_order(
    pg_engine: AsyncEngine,
) -> None:
    # T1 writes its change first but commits last: a reader that paged past T2's change must
    # still get T1's.
    async with pg_engine.begin() as t1:
        await ledger.reserve(t1, "O-T1", 1, [ledger.Allocation("a", "wh-reno", SKU, "1", 1)])
        await reserve(pg_engine, "O-T2", "wh-reno", 1, sku=OTHER)
        [first] = await feed(pg_engine)
        assert (first.seq, first.sku) == (1, OTHER)
    [late] = await feed(pg_engine, since=first.seq)
    assert (late.seq, late.sku) == (2, SKU)


async def _blocked(engine: AsyncEngine, task: Awaitable[None]) -> None:
    """Wait until another backend of this database waits on a lock (the task under test)."""
    for _ in range(200):
        async with engine.connect() as conn:
            waiting = await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting.scalar_one() > 0:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the second transaction never waited for the first")


async def test_concurrent_first_touches_of_a_sku_without_a_row_both_succeed(
    pg_engine: AsyncEngine,
) -> None:
    async with pg_engine.begin() as conn:
        await conn.execute(
            schema.sku_availability.delete().where(schema.sku_availability.c.sku == SKU)
        )
    start = await total_atp(pg_engine)
    async with pg_engine.begin() as t1:
        await ledger.reserve(t1, "O-A", 1, [ledger.Allocation("a", "wh-reno", SKU, "1", 2)])
        second = asyncio.create_task(reserve(pg_engine, "O-B", "wh-dallas", 3))
        await _blocked(pg_engine, second)
    await second  # no duplicate-key error: the row one of them inserted serves both
    changes = await feed(pg_engine)
    assert [c.atp for c in changes] == [start - 2, start - 5]
    async with pg_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(schema.sku_availability).where(schema.sku_availability.c.sku == SKU)
            )
        ).one()
    assert (row.atp, row.version) == (start - 5, 2)


async def test_the_later_of_two_concurrent_changes_publishes_the_atp_after_both(
    pg_engine: AsyncEngine,
) -> None:
    start = await total_atp(pg_engine)
    async with pg_engine.begin() as t1:
        await ledger.reserve(t1, "O-C", 1, [ledger.Allocation("c", "wh-reno", SKU, "1", 3)])
        second = asyncio.create_task(reserve(pg_engine, "O-D", "wh-dallas", 2))
        await _blocked(pg_engine, second)
    await second
    assert [c.atp for c in await feed(pg_engine)] == [start - 3, start - 5]


# --- rows for every SKU --------------------------------------------------------------------------


def _alembic(sync_conn: sa.Connection, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    getattr(command, action)(cfg, revision)


async def test_the_migration_gives_existing_skus_their_current_atp(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await reserve(ledger_engine, "O-M", "wh-reno", 7)
    async with ledger_engine.begin() as conn:
        await conn.run_sync(_alembic, "downgrade", "0004")
    async with ledger_engine.begin() as conn:
        await conn.run_sync(_alembic, "upgrade", "head")
    async with ledger_engine.connect() as conn:
        rows = {r.sku: r for r in await conn.execute(sa.select(schema.sku_availability))}
    assert set(rows) == {s.sku for s in network.skus}
    for sku in (SKU, OTHER, "HAMMOCK"):
        assert rows[sku].atp == await total_atp(ledger_engine, sku), sku
        assert rows[sku].version == 0
    # The next movement is measured from the filled ATP: exactly one change, to the right value.
    start = rows[SKU].atp
    await reserve(ledger_engine, "O-N", "wh-reno", 1)
    assert [c.atp for c in await feed(ledger_engine)] == [start - 1]


async def test_seeding_a_new_sku_gives_it_a_row_at_its_atp(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    new = SkuConfig(sku="NEW-SKU", name="New", weight_lb=1.0, price="9.99")
    grown = network.model_copy(
        update={
            "skus": [*network.skus, new],
            "inventory": [
                *network.inventory,
                InventorySeed(node="wh-reno", sku="NEW-SKU", on_hand=12, safety_stock=2),
            ],
        }
    )
    await seed_network(ledger_engine, grown)
    async with ledger_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(schema.sku_availability).where(schema.sku_availability.c.sku == "NEW-SKU")
            )
        ).one()
    assert (row.atp, row.version) == (10, 0)
    assert await feed(ledger_engine) == []
    await reserve(ledger_engine, "O-S", "wh-reno", 10, sku="NEW-SKU")
    [sold_out] = await feed(ledger_engine)
    assert (sold_out.sku, sold_out.atp) == ("NEW-SKU", 0)


@pytest.mark.parametrize("limit", [1, 2])
async def test_read_changes_pages_by_seq(ledger_engine: AsyncEngine, limit: int) -> None:
    for i in range(3):
        await reserve(ledger_engine, f"O-P{i}", "wh-reno", 1)
    seen: list[int] = []
    since = 0
    while page := await availability.read_changes(ledger_engine, since, limit):
        assert len(page) <= limit
        seen += [c.seq for c in page]
        since = page[-1].seq
    assert seen == [] and await availability.sequence(ledger_engine) == 3
    while page := await availability.read_changes(ledger_engine, since, limit):
        seen += [c.seq for c in page]
        since = page[-1].seq
    assert seen == [1, 2, 3]
