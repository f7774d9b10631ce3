"""Live node settings: seeded once from the network config, changed by ops with who and when,
never undone by a re-seed (a config holiday ops removed stays removed); bad changes are refused
and change nothing."""

from __future__ import annotations

import logging
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import node_settings, schema
from activities.inventory.db import seed_network
from activities.inventory.node_settings import InvalidSettings, UnknownNode
from dom_workflows.network import Network, NodeCapacity

THANKSGIVING = date(2026, 11, 26)


async def settings_of(engine: AsyncEngine, network: Network | None = None) -> dict[str, object]:
    async with engine.connect() as conn:
        return dict(await node_settings.load_node_settings(conn, network))


async def test_seeded_from_the_config(ledger_engine: AsyncEngine, network: Network) -> None:
    seeded = await settings_of(ledger_engine)
    assert set(seeded) == {n.id for n in network.nodes}
    for n in network.nodes:
        s = seeded[n.id]
        assert isinstance(s, node_settings.NodeSettings)
        assert (s.timezone, s.cutoff, s.handling_days) == (n.timezone, n.cutoff, n.handling_days)
        assert s.working_days == n.working_days
        assert s.capacity_limit == (n.capacity.limit if n.capacity else None)
        assert s.updated_by == "network-seed"
        assert THANKSGIVING in s.holidays  # network-wide
    nyc = seeded["store-nyc"]
    assert isinstance(nyc, node_settings.NodeSettings)
    assert nyc.calendar_fields() == {
        "timezone": "America/New_York",
        "cutoff": "14:00",
        "handling_days": 0,
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "holidays": nyc.holidays,
    }


async def test_live_changes_survive_a_reseed(
    ledger_engine: AsyncEngine, network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dom.nodes")
    changed = await node_settings.update_node_settings(
        ledger_engine,
        "store-nyc",
        {
            "cutoff": "13:00",
            "working_days": ["sun", "mon"],
            "capacity": {"limit": 7, "unit": "units"},
        },
        who="alice",
    )
    assert changed.cutoff == "13:00" and changed.working_days == ["mon", "sun"]
    assert (changed.capacity_limit, changed.capacity_unit) == (7, "units")
    assert changed.updated_by == "alice" and changed.updated_at is not None
    assert any("store-nyc settings changed by alice" in r.getMessage() for r in caplog.records)
    assert await node_settings.remove_holiday(ledger_engine, THANKSGIVING, None, who="bob")
    await node_settings.add_holiday(ledger_engine, date(2026, 12, 31), "store-nyc", "NYE", "bob")

    # A new node in the config gets its row; everything ops changed stays as ops left it.
    grown = network.model_copy(
        update={
            "nodes": [
                *network.nodes,
                network.node("wh-reno").model_copy(
                    update={"id": "wh-new", "capacity": NodeCapacity(limit=3)}
                ),
            ]
        }
    )
    await seed_network(ledger_engine, grown)
    after = await settings_of(ledger_engine)
    nyc = after["store-nyc"]
    assert isinstance(nyc, node_settings.NodeSettings)
    assert (nyc.cutoff, nyc.capacity_limit, nyc.updated_by) == ("13:00", 7, "alice")
    assert THANKSGIVING not in nyc.holidays and date(2026, 12, 31) in nyc.holidays
    reno = after["wh-reno"]
    assert isinstance(reno, node_settings.NodeSettings)
    assert date(2026, 12, 31) not in reno.holidays  # store-nyc's own day
    new = after["wh-new"]
    assert isinstance(new, node_settings.NodeSettings) and new.capacity_limit == 3


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"timezone": "../../etc/passwd"}, "unknown timezone"),
        ({"cutoff": "24:00"}, "cutoff"),
        ({"working_days": []}, "working_days"),
        ({"handling_days": 61}, "handling_days"),
        ({"capacity": {"limit": -5}}, "limit"),
        ({"cutoff": None}, "cutoff cannot be null"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_change_is_refused_and_changes_nothing(
    sqlite_engine: AsyncEngine, change: dict[str, object], needle: str
) -> None:
    before = await settings_of(sqlite_engine)
    with pytest.raises(InvalidSettings, match=needle):
        await node_settings.update_node_settings(sqlite_engine, "store-nyc", change, who="x")
    assert await settings_of(sqlite_engine) == before


async def test_unknown_nodes_are_refused(sqlite_engine: AsyncEngine) -> None:
    with pytest.raises(UnknownNode):
        await node_settings.update_node_settings(sqlite_engine, "nowhere", {"cutoff": "10:00"}, "x")
    with pytest.raises(UnknownNode):
        await node_settings.add_holiday(sqlite_engine, THANKSGIVING, "nowhere", "", "x")
    async with sqlite_engine.connect() as conn:
        count = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(schema.node_settings)
                .where(schema.node_settings.c.node_id == "nowhere")
            )
        ).scalar_one()
    assert count == 0


async def test_a_node_without_a_row_falls_back_to_its_config(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    async with sqlite_engine.begin() as conn:
        await conn.execute(
            schema.node_settings.delete().where(schema.node_settings.c.node_id == "wh-dallas")
        )
    assert "wh-dallas" not in await settings_of(sqlite_engine)
    dallas = (await settings_of(sqlite_engine, network))["wh-dallas"]
    assert isinstance(dallas, node_settings.NodeSettings)
    assert dallas.timezone == "America/Chicago" and THANKSGIVING in dallas.holidays


async def test_a_config_with_an_unknown_zone_stops_the_seed(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    bad = network.model_copy(
        update={
            "nodes": [
                *network.nodes,
                network.node("wh-reno").model_copy(update={"id": "wh-mars", "timezone": "Mars/X"}),
            ]
        }
    )
    with pytest.raises(ValueError, match="node wh-mars: unknown timezone 'Mars/X'"):
        await seed_network(sqlite_engine, bad)
    assert "wh-mars" not in await settings_of(sqlite_engine)
