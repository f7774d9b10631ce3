"""`dom whatif`'s engine: recorded orders (from the DOM database or a file) replayed offline
against a policy that forbids a node move exactly the orders that used it; the same policy
moves nothing; the shortcut the shadow plans take agrees with the full plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory.activities import InventoryActivities
from activities.shadow.compare import Outcome, outcome, plan_under
from activities.shadow.report import summarise
from activities.shadow.snapshot import scenario_of
from activities.shadow.whatif import BadOrdersFile, read_orders, recorded_since, replay, static_of
from dom_workflows.network import Network
from dom_workflows.routing import Order, Policy, Scenario, plan_route
from tests.support.shadow import live_policy, route_input, without
from workers.bench.routing import synthetic_network, synthetic_orders

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


async def test_whatif_on_recorded_orders_moves_the_orders_of_a_forbidden_node(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    acts = InventoryActivities(ledger_engine, network, live_policy())
    used: dict[str, set[str]] = {}
    for k, qty in enumerate((1, 2, 3, 1, 2)):
        result = await acts.reserve_and_route(route_input(f"W-{k}", qty))
        used[f"W-{k}"] = {f.node for f in result.fulfillments}
    records = await recorded_since(ledger_engine, SINCE)
    assert [r.order_id for r in records] == [f"W-{k}" for k in range(5)]
    forbidden = sorted(used["W-0"])[0]
    static = static_of(network)

    result = replay(records, static, without(forbidden), live_policy(), "no-" + forbidden)

    (p,) = summarise(result.comparisons)
    assert p.moved == sorted(o for o, nodes in used.items() if forbidden in nodes)
    assert p.orders == 5 and not result.skipped
    shift = {n.node: n.delta for n in p.node_load}
    assert shift[forbidden] == -len(p.moved)
    assert p.cost_delta >= 0  # the live plans were the optimum on that stock
    # The live policy itself changes nothing: the replay rebuilds what the orders saw.
    same = replay(records, static, live_policy(), live_policy(), "live")
    assert all(c.shadow == c.live for c in same.comparisons), same.comparisons


def test_whatif_from_a_file_plans_the_baseline_under_the_base_policy(tmp_path: Path) -> None:
    from workers.bench.whatif import write_sample

    orders, net, pol = tmp_path / "o.jsonl", tmp_path / "n.json", tmp_path / "p.json"
    assert write_sample(orders, net, pol, 60, 12, seed=3) == 60
    from dom_workflows.network import load_network
    from dom_workflows.routing import load_policy

    records = read_orders(orders)
    base = load_policy(pol)
    static = static_of(load_network(net))
    first_node = static[0][0].id
    doc = base.model_dump(mode="json")
    rule = {"name": "forbid", "when": {}, "then": {"exclude_nodes": [first_node]}}
    forbid = Policy.model_validate({**doc, "rules": [*doc["rules"], rule]})
    one = replay(records, static, forbid, base, "forbid")
    two = replay(records, static, forbid, base, "forbid", jobs=2)  # chunks of 500: one job
    assert one == two and len(one.comparisons) == 60
    shadows = {c.order_id: c.shadow for c in one.comparisons if isinstance(c.shadow, Outcome)}
    assert len(shadows) == 60 and not any(first_node in s.nodes for s in shadows.values())
    # Removing a node the optimum did not use leaves the optimum: only its orders move.
    used = {c.order_id for c in one.comparisons if first_node in c.live.nodes}
    assert used, "the sample never used the forbidden node: the test proves nothing"
    moved = {
        c.order_id for c in one.comparisons if set(c.live.nodes) != set(shadows[c.order_id].nodes)
    }
    assert moved == used


def test_a_bad_orders_file_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps({"order": {"id": "x"}, "stock": []}) + "\n{not json\n")
    with pytest.raises(BadOrdersFile, match=r"bad.jsonl:2"):
        read_orders(f)


def test_the_shadow_shortcut_agrees_with_the_full_plan() -> None:
    net = synthetic_network(30, 11)
    base = Scenario.model_validate({**net, "order": synthetic_orders(net, 1, 11)[0]})
    for o in synthetic_orders(net, 150, 11):
        sc = base.model_copy(update={"order": Order.model_validate(o)})
        full = outcome(plan_route(sc, "optimal", alternatives=False), sc.order.promise_days)
        assert plan_under(sc, sc.policy) == full, o["id"]


def test_a_snapshot_rebuilds_the_scenario_it_was_taken_of() -> None:
    from activities.shadow.snapshot import snapshot_of

    net = synthetic_network(12, 5)
    sc = Scenario.model_validate({**net, "order": synthetic_orders(net, 1, 5)[0]})
    static = (list(sc.nodes), list(sc.skus), sc.rates)
    live = [sc.nodes[0].model_copy(update={"capacity_remaining": 0}), *sc.nodes[1:]]
    seen = sc.model_copy(update={"nodes": live})
    snap = json.loads(json.dumps(snapshot_of(seen, static[0])))
    assert snap["nodes"] == {sc.nodes[0].id: {"capacity_remaining": 0}}
    back = scenario_of(snap, static, sc.policy)
    assert back.nodes == seen.nodes and back.order == seen.order
    assert [(p.node, p.sku, p.on_hand) for p in back.inventory] == [
        (p.node, p.sku, p.on_hand) for p in seen.inventory
    ]


def test_a_sample_with_recorded_outcomes_replays_without_planning_the_baseline(
    tmp_path: Path,
) -> None:
    from dom_workflows.network import load_network
    from dom_workflows.routing import load_policy
    from workers.bench.whatif import write_sample

    orders, net, pol = tmp_path / "o.jsonl", tmp_path / "n.json", tmp_path / "p.json"
    write_sample(orders, net, pol, 30, 12, seed=8, with_live=True)
    records = read_orders(orders)
    assert all(r.live is not None for r in records)
    # A base policy that could plan nothing is never used: the recorded outcomes are the baseline.
    nothing = Policy.model_validate({"rules": [{"name": "x", "when": {}, "then": {
        "exclude_node_types": ["warehouse", "store", "3pl", "dropship"]}}]})  # fmt: skip
    same = replay(records, static_of(load_network(net)), load_policy(pol), nothing, "same")
    assert len(same.comparisons) == 30
    assert all(c.shadow == c.live for c in same.comparisons)
