"""Shadow planning inside reserve_and_route: every live attempt records its input, and each
active shadow policy's plan of the same inputs beside the live one, in the live decision's
transaction, once per attempt, and never with any effect on the reservations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from activities.inventory.activities import InventoryActivities
from activities.shadow import policies
from activities.shadow.record import plan_attempt, record_attempt
from dom_workflows.network import Network
from tests.support.shadow import NOW, SKU, live_policy, route_input, without


async def rows(engine: AsyncEngine, table: sa.Table, order_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(table).where(table.c.order_id == order_id))
        return [dict(r) for r in result.mappings()]


async def reserved_by_node(engine: AsyncEngine, order_id: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in await ledger.reservations_of(engine, order_id):
        out[r["node_id"]] = out.get(r["node_id"], 0) + int(r["qty"])
    return out


async def test_no_shadow_rows_without_an_active_policy_but_the_input_is_recorded(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    acts = InventoryActivities(ledger_engine, network, live_policy())
    await policies.add(ledger_engine, "idle", without("wh-columbus"), NOW)
    await policies.set_active(ledger_engine, "idle", False, NOW)
    result = await acts.reserve_and_route(route_input("S-NONE"))
    assert await rows(ledger_engine, schema.shadow_plans, "S-NONE") == []
    (inp,) = await rows(ledger_engine, schema.routing_inputs, "S-NONE")
    assert inp["live_nodes"] == [f.node for f in result.fulfillments]
    assert Decimal(inp["live_cost"]) == result.total_cost
    assert inp["snapshot"]["order"]["id"] == "S-NONE"
    assert {s[1] for s in inp["snapshot"]["stock"]} == {SKU}


async def test_an_active_shadow_policy_records_its_plan_beside_the_live_one_and_reserves_nothing(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    acts = InventoryActivities(ledger_engine, network, live_policy())
    first = await acts.reserve_and_route(route_input("S-LIVE-1"))
    (live_node,) = {f.node for f in first.fulfillments}
    await policies.add(ledger_engine, "no-first-choice", without(live_node), NOW)

    result = await acts.reserve_and_route(route_input("S-LIVE-2"))

    assert {f.node for f in result.fulfillments} == {live_node}  # the live plan is unchanged
    (row,) = await rows(ledger_engine, schema.shadow_plans, "S-LIVE-2")
    assert row["policy"] == "no-first-choice" and row["route_attempt"] == 1
    assert row["live_nodes"] == [live_node]
    assert row["shadow_nodes"] and live_node not in row["shadow_nodes"]
    assert Decimal(row["live_cost"]) == result.total_cost
    assert Decimal(row["shadow_cost"]) >= Decimal(row["live_cost"])  # live is the optimum
    assert row["live_promise_met"] is True and row["shadow_error"] is None
    # The ledger holds the live plan only: the shadow's nodes reserved nothing for the order.
    assert await reserved_by_node(ledger_engine, "S-LIVE-2") == {live_node: 2}
    async with ledger_engine.connect() as conn:
        positions = (
            await conn.execute(
                sa.select(schema.inventory_positions).where(schema.inventory_positions.c.sku == SKU)
            )
        ).mappings()
        reserved = {p["node_id"]: p["reserved"] for p in positions if p["reserved"]}
    assert reserved == {live_node: 4}  # S-LIVE-1 and S-LIVE-2, nothing at the shadow's nodes


async def test_a_retried_attempt_records_its_shadow_plan_once(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    acts = InventoryActivities(ledger_engine, network, live_policy())
    await policies.add(ledger_engine, "candidate", without("wh-columbus"), NOW)
    inp = route_input("S-RETRY")
    first = await acts.reserve_and_route(inp)
    assert await acts.reserve_and_route(inp) == first
    before = await rows(ledger_engine, schema.shadow_plans, "S-RETRY")
    assert len(before) == 1
    # A lost try that already wrote the rows in a committed transaction: writing again (the
    # same attempt, now different stock) adds nothing and changes nothing.
    async with ledger_engine.connect() as conn:
        seen: list[Any] = []
        plan = await acts.plan_for(conn, inp, NOW, alternatives=False, seen=seen)
        planned = await plan_attempt(conn, seen[-1], plan, acts._static[0])
    async with ledger_engine.begin() as conn:
        await record_attempt(
            conn, order_id="S-RETRY", attempt=1, planned=planned, currency="USD", now=NOW
        )
    assert await rows(ledger_engine, schema.shadow_plans, "S-RETRY") == before
    assert len(await rows(ledger_engine, schema.routing_inputs, "S-RETRY")) == 1
    # A new attempt (a re-route) is a new decision with its own row.
    await acts.reserve_and_route(route_input("S-RETRY", attempt=2))
    assert len(await rows(ledger_engine, schema.shadow_plans, "S-RETRY")) == 2


async def test_a_shadow_policy_that_ships_nothing_is_recorded_and_the_live_order_routes(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    acts = InventoryActivities(ledger_engine, network, live_policy())
    single = live_policy().model_copy(update={"max_shipments": 1})
    everywhere = without(*(n.id for n in network.nodes))
    await policies.add(ledger_engine, "nowhere", everywhere, NOW)
    await policies.add(ledger_engine, "single", single, NOW)
    result = await acts.reserve_and_route(route_input("S-ERR"))
    assert result.fulfillments and not result.backordered
    by_policy = {r["policy"]: r for r in await rows(ledger_engine, schema.shadow_plans, "S-ERR")}
    assert set(by_policy) == {"nowhere", "single"}
    nowhere = by_policy["nowhere"]
    # Every node excluded: the candidate backorders every unit, and misses the promise.
    assert nowhere["shadow_backordered_units"] == 2 and nowhere["shadow_shipments"] == 0
    assert nowhere["shadow_promise_met"] is False and nowhere["shadow_error"] is None
    assert await reserved_by_node(ledger_engine, "S-ERR") == {
        f.node: sum(ln.qty for ln in f.lines) for f in result.fulfillments
    }
