"""Routing follows the active network version on SQLite and PostgreSQL: a new version applies to
the next routing attempt, and every decision names the version and policy it used."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.activities import InventoryActivities
from activities.network import store
from activities.network.live import LiveNetworks
from dom_workflows.inventory.models import (
    OrderToRoute,
    ReserveAndRouteInput,
    SourcingLine,
    ValidatedOrder,
)
from dom_workflows.money import Money
from tests.network.test_scope import example
from tests.support.harness import make_order

DALLAS = (32.7767, -96.7970, "TX", "75201")
SKU = "BOOT-HIKE-10"


def route_input(
    order_id: str, where: tuple[float, float, str, str] = DALLAS
) -> ReserveAndRouteInput:
    lat, lon, state, zip_code = where
    return ReserveAndRouteInput(
        order=OrderToRoute.of(make_order([(SKU, 1)], order_id=order_id)),
        destination=ValidatedOrder(
            ship_to_lat=lat,
            ship_to_lon=lon,
            ship_to_state=state,
            ship_to_zip=zip_code,
            order_value=Money(amount=Decimal("50.00")),
        ),
        attempt=1,
        lines=[SourcingLine(line_id="1", sku=SKU, qty=1, unit_price=Decimal("50.00"))],
        weekday="wed",
    )


async def versioned(engine: AsyncEngine) -> InventoryActivities:
    doc = example()
    await store.seed(engine, doc.network, doc.policy)
    return InventoryActivities(engine, doc.network, doc.policy, live=LiveNetworks())


async def decision(engine: AsyncEngine, order_id: str) -> sa.Row[tuple[int, str, list[str]]]:
    d = schema.routing_decisions
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(d.c.network_version, d.c.policy_version, d.c.scopes).where(
                    d.c.order_id == order_id
                )
            )
        ).one()
    return row


async def test_the_next_order_uses_a_new_version_and_its_decision_names_it(
    ledger_engine: AsyncEngine,
) -> None:
    acts = await versioned(ledger_engine)
    first = await acts.reserve_and_route(route_input("V-1"))
    assert [f.node for f in first.fulfillments] == ["wh-dallas"]
    assert tuple(await decision(ledger_engine, "V-1")) == (1, "1", [])

    # Draining Dallas: no restart, the very next attempt plans without it.
    data = example().model_dump(mode="json") | {"node_states": {"wh-dallas": "draining"}}
    await store.apply(ledger_engine, data, "ops")
    second = await acts.reserve_and_route(route_input("V-2"))
    assert second.fulfillments and "wh-dallas" not in [f.node for f in second.fulfillments]
    assert tuple(await decision(ledger_engine, "V-2")) == (2, "1", [])
    # The order in flight keeps its plan: its reservation at Dallas is untouched.
    res = schema.reservations
    async with ledger_engine.connect() as conn:
        kept = await conn.scalar(
            sa.select(sa.func.sum(res.c.qty)).where(
                res.c.order_id == "V-1", res.c.node_id == "wh-dallas"
            )
        )
    assert kept == 1

    # Rolled back: Dallas takes orders again, under version 3.
    await store.rollback(ledger_engine, 1, "ops")
    third = await acts.reserve_and_route(route_input("V-3"))
    assert [f.node for f in third.fulfillments] == ["wh-dallas"]
    assert tuple(await decision(ledger_engine, "V-3")) == (3, "1", [])


async def test_a_node_rolled_out_to_one_state_serves_only_that_state(
    ledger_engine: AsyncEngine,
) -> None:
    acts = await versioned(ledger_engine)
    data = example().model_dump(mode="json") | {
        "node_scopes": {"wh-dallas": {"states": ["OK"]}},
        "policy_variants": [
            {
                "name": "pilot",
                "scope": {"states": ["OK"]},
                "policy": example().policy.model_dump(mode="json"),
            }
        ],
    }
    await store.apply(ledger_engine, data, "ops")
    texas = await acts.reserve_and_route(route_input("S-TX"))
    assert "wh-dallas" not in [f.node for f in texas.fulfillments]
    assert tuple(await decision(ledger_engine, "S-TX")) == (2, "2", [])
    tulsa = (36.1540, -95.9928, "OK", "74103")
    oklahoma = await acts.reserve_and_route(route_input("S-OK", tulsa))
    assert [f.node for f in oklahoma.fulfillments] == ["wh-dallas"]
    assert tuple(await decision(ledger_engine, "S-OK")) == (
        2,
        "2:pilot",
        ["policy:pilot", "node:wh-dallas"],
    )


async def test_without_a_version_routing_keeps_the_configured_network(
    ledger_engine: AsyncEngine,
) -> None:
    doc = example()
    acts = InventoryActivities(ledger_engine, doc.network, doc.policy, live=LiveNetworks())
    result = await acts.reserve_and_route(route_input("N-1"))
    assert result.fulfillments
    assert tuple(await decision(ledger_engine, "N-1")) == (None, None, None)


async def test_a_rule_scoped_to_one_state_changes_only_that_states_orders(
    ledger_engine: AsyncEngine,
) -> None:
    acts = await versioned(ledger_engine)
    data = example().model_dump(mode="json")
    data["policy"]["rules"].append(
        {"name": "tx-avoid-dallas", "when": {}, "then": {"exclude_nodes": ["wh-dallas"]}}
    )
    data["rule_scopes"] = {"tx-avoid-dallas": {"states": ["TX"]}}
    await store.apply(ledger_engine, data, "ops")
    texas = await acts.reserve_and_route(route_input("R-TX"))
    assert texas.fulfillments and "wh-dallas" not in [f.node for f in texas.fulfillments]
    assert tuple(await decision(ledger_engine, "R-TX")) == (2, "2", ["rule:tx-avoid-dallas"])
    tulsa = (36.1540, -95.9928, "OK", "74103")
    oklahoma = await acts.reserve_and_route(route_input("R-OK", tulsa))
    assert [f.node for f in oklahoma.fulfillments] == ["wh-dallas"]
    assert tuple(await decision(ledger_engine, "R-OK")) == (2, "2", [])
