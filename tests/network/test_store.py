"""The version store on SQLite and PostgreSQL: seed, apply with its diff, dry run, refusal,
history, rollback and node lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.network import store
from tests.network.test_scope import example


async def seeded(engine: AsyncEngine) -> None:
    doc = example()
    assert await store.seed(engine, doc.network, doc.policy) == 1
    assert await store.seed(engine, doc.network, doc.policy) is None  # once


async def active(engine: AsyncEngine) -> store.StoredVersion:
    async with engine.connect() as conn:
        got = await store.get(conn)
    assert got is not None
    return got


def drained(node: str) -> dict[str, Any]:
    return example().model_dump(mode="json") | {"node_states": {node: "draining"}}


async def test_apply_activates_a_new_version_with_who_and_why_and_its_diff(
    ledger_engine: AsyncEngine,
) -> None:
    await seeded(ledger_engine)
    result = await store.apply(ledger_engine, drained("wh-dallas"), "cli:ops", "storm")
    assert result.applied is not None and result.previous == 1
    assert result.lines() == ["~ node state wh-dallas: active -> draining"]
    now = await active(ledger_engine)
    assert (now.version, now.author, now.comment) == (2, "cli:ops", "storm")
    assert now.document.state_of("wh-dallas") == "draining"
    # Only nodes changed: the policy version stays the one version 1 introduced.
    assert now.policy_version == 1


async def test_a_dry_run_and_a_bad_document_change_nothing(ledger_engine: AsyncEngine) -> None:
    await seeded(ledger_engine)
    dry = await store.apply(ledger_engine, drained("wh-reno"), "x", dry_run=True)
    assert dry.applied is None and dry.lines() == ["~ node state wh-reno: active -> draining"]
    bad = example().model_dump(mode="json") | {"node_states": {"wh-atlantis": "disabled"}}
    with pytest.raises(store.InvalidDocument, match="node_states: unknown node wh-atlantis"):
        await store.apply(ledger_engine, bad, "x")
    assert (await active(ledger_engine)).version == 1
    async with ledger_engine.connect() as conn:
        assert len(await store.history(conn)) == 1


async def test_rollback_is_a_new_version_equal_to_the_old_one(ledger_engine: AsyncEngine) -> None:
    await seeded(ledger_engine)
    policy = example().model_dump(mode="json")
    policy["policy"]["split_penalty"] = "9.00"
    await store.apply(ledger_engine, policy, "a")
    assert (await active(ledger_engine)).policy_version == 2
    back = await store.rollback(ledger_engine, 1, "b")
    assert back.applied is not None and back.applied.rollback_of == 1
    assert back.lines() == ["~ policy split_penalty: 9.00 -> 3.00"]
    now = await active(ledger_engine)
    assert now.version == 3 and now.policy_version == 3
    assert now.document == example()
    async with ledger_engine.connect() as conn:
        assert [v.version for v in await store.history(conn)] == [3, 2, 1]
        with pytest.raises(store.UnknownVersion):
            await store.get(conn, 42)


async def test_node_lifecycle_changes_are_versions(ledger_engine: AsyncEngine) -> None:
    await seeded(ledger_engine)
    await store.set_node_state(ledger_engine, "store-la", "disabled", "ops")
    await store.set_node_state(ledger_engine, "store-la", "active", "ops")
    now = await active(ledger_engine)
    assert now.version == 3 and now.document.node_states == {}
    assert now.comment == "node store-la active"
    with pytest.raises(LookupError):
        await store.set_node_state(ledger_engine, "nowhere", "draining", "ops")


async def test_a_new_node_gets_its_ledger_rows_when_applied(ledger_engine: AsyncEngine) -> None:
    await seeded(ledger_engine)
    data = example().model_dump(mode="json")
    data["network"]["nodes"].append(dict(data["network"]["nodes"][1], id="wh-denver"))
    data["network"]["inventory"].append({"node": "wh-denver", "sku": "BOOT-HIKE-9", "on_hand": 7})
    result = await store.apply(ledger_engine, data, "ops")
    assert "+ node wh-denver" in result.lines()
    async with ledger_engine.connect() as conn:
        on_hand = await conn.scalar(
            sa.select(schema.inventory_positions.c.on_hand).where(
                schema.inventory_positions.c.node_id == "wh-denver"
            )
        )
    assert on_hand == 7


async def test_reordered_rules_are_a_change_and_the_same_document_is_none(
    ledger_engine: AsyncEngine,
) -> None:
    await seeded(ledger_engine)
    same = await store.apply(ledger_engine, example().model_dump(mode="json"), "x")
    assert same.applied is None and same.lines() == ["no change"]
    data = example().model_dump(mode="json")
    data["policy"]["rules"].reverse()
    moved = await store.apply(ledger_engine, data, "x")
    assert moved.applied is not None and moved.lines() == ["~ document: order of items"]
