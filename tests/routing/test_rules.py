"""The five business examples from the demo policy, each proven on its example scenario."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dom_workflows.routing import Plan, load_policy, load_scenario, plan_route
from dom_workflows.routing.problem import build_problem
from tests.support.routing import ROOT, load_example


def route(data: dict[str, Any], *, keep: list[str] | None = None, **order: Any) -> Plan:
    """Plan a copy of the scenario, optionally keeping only the named rules and changing the order."""
    data = copy.deepcopy(data)
    if keep is not None:
        data["policy"]["rules"] = [r for r in data["policy"]["rules"] if r["name"] in keep]
    data["order"].update(order)
    return plan_route(load_scenario(data))


def nodes(plan: Plan) -> list[str]:
    return [s.node for s in plan.shipments]


def excluded(plan: Plan, node: str, sku: str | None = None) -> str:
    for e in plan.explanation.excluded:
        if e.node == node and e.sku == sku:
            return e.reason
    raise AssertionError(f"{node}/{sku} not excluded: {plan.explanation.excluded}")


def test_example_scenarios_use_the_demo_policy() -> None:
    policy = load_policy(ROOT / "examples" / "policy.yaml")
    for path in sorted((ROOT / "examples" / "scenarios").glob("*.json")):
        assert load_scenario(path).policy == policy, path.name


# --------------------------------------------------------------------------- VIP


def test_vip_gets_the_fastest_service() -> None:
    data = load_example("vip-fastest")
    vip = route(data)
    standard = route(data, customer_tier="standard")
    assert "vip-fastest" in vip.explanation.rules_applied
    assert [(s.service, s.transit_days) for s in vip.shipments] == [("overnight", 1)]
    assert all(s.service == "ground" for s in standard.shipments)
    assert max(s.transit_days for s in standard.shipments) > 1
    assert vip.total_cost > standard.total_cost  # faster first, even though it costs more


def test_vip_fastest_breaks_ties_on_cost() -> None:
    # Next to a store, ground and express both take 1 day: the cheaper ground wins.
    data = load_example("vip-fastest")
    plan = route(data, lines=[{"sku": "BINOC-10X42", "qty": 1}], ship_to={"zip": "60602"})
    assert [(s.node, s.service, s.transit_days) for s in plan.shipments] == [
        ("store-chicago", "ground", 1)
    ]


def test_vip_picks_the_cheapest_plan_among_fastest_shipments() -> None:
    data = load_example("vip-fastest")
    plan = route(data)
    for alt in plan.explanation.alternatives:
        assert alt.delta >= 0


# --------------------------------------------------------------------------- high margin


def test_high_margin_ships_from_a_warehouse_even_when_a_store_is_closer() -> None:
    data = load_example("high-margin-warehouse")
    without = route(data, keep=[])
    assert nodes(without) == ["store-miami"]  # closest and cheapest without the rule
    plan = route(data)
    assert [s.node_type for s in plan.shipments] == ["warehouse"]
    assert "high-margin-from-warehouse" in excluded(plan, "store-miami", "GPS-WATCH")


def test_high_margin_rule_is_scoped_to_the_tagged_skus() -> None:
    data = load_example("high-margin-warehouse")
    lines = [{"sku": "GPS-WATCH", "qty": 1}, {"sku": "SOCK-WOOL-3PK", "qty": 1}]
    prob = build_problem(load_scenario({**data, "order": {**data["order"], "lines": lines}}))
    miami = next(c for c in prob.cands if c.node == "store-miami")
    assert miami.stock == [0, 9]  # no watches, but the socks are still available


# --------------------------------------------------------------------------- Florida Tuesdays


def test_florida_orders_avoid_memphis_on_tuesdays() -> None:
    data = load_example("florida-tuesday")
    wednesday = route(data, weekday="wed")
    assert nodes(wednesday) == ["3pl-memphis"]  # the cheapest on any other day
    tuesday = route(data)
    assert "3pl-memphis" not in nodes(tuesday)
    assert excluded(tuesday, "3pl-memphis") == "rule florida-tuesday-memphis"


def test_tuesday_rule_does_not_touch_other_states() -> None:
    data = load_example("florida-tuesday")
    plan = route(data, ship_to={"zip": "35203"})  # Birmingham, AL
    assert "florida-tuesday-memphis" not in plan.explanation.rules_applied
    assert "3pl-memphis" in nodes(plan)


# --------------------------------------------------------------------------- floor stock


def test_store_with_two_parkas_left_is_not_used() -> None:
    data = load_example("store-floor")
    assert route(data, keep=[]).shipments[0].node == "store-nyc"
    floor_only = route(data, keep=["store-outerwear-floor"])
    assert "store-nyc" not in nodes(floor_only)
    assert "floor stock: ATP 2 <= floor 2 (rule store-outerwear-floor)" in excluded(
        floor_only, "store-nyc", "PARKA-EXP-L"
    )
    plan = route(data)
    assert nodes(plan) == ["wh-dallas"]  # farther away, with 500+ parkas
    assert "store-outerwear-floor" in excluded(plan, "store-nyc", "PARKA-EXP-L")


def test_floor_keeps_units_back_at_stores_with_more_stock() -> None:
    data = copy.deepcopy(load_example("store-floor"))
    data["policy"]["rules"] = [
        r for r in data["policy"]["rules"] if r["name"] == "store-outerwear-floor"
    ]
    prob = build_problem(load_scenario(data))
    la = next(c for c in prob.cands if c.node == "store-la")
    assert la.stock == [14 - 2 - 2]  # on hand 14, safety stock 2, floor 2


# --------------------------------------------------------------------------- BOPIS


def test_bopis_uses_the_pickup_node_in_place_and_moves_only_missing_units() -> None:
    plan = route(load_example("bopis"))
    pickup, *transfers = plan.shipments
    assert pickup.node == "store-chicago" and pickup.service == "pickup"
    assert pickup.shipping_cost == 0 and pickup.distance_miles == 0
    assert {(ln.sku, ln.qty) for ln in pickup.lines} == {("FLEECE-M", 2), ("PARKA-EXP-M", 1)}
    moved = {(ln.sku, ln.qty) for s in transfers for ln in s.lines}
    assert moved == {("TENT-2P", 1), ("JKT-DOWN-M", 1)}
    assert plan.backordered == []
    assert "store-chicago" not in [s.node for s in transfers]


def test_bopis_in_place_units_are_fixed_even_when_elsewhere_is_cheaper() -> None:
    data = load_example("bopis")
    data = copy.deepcopy(data)
    # Make the store's own handling absurdly expensive: the pickup is still at the store.
    for node in data["nodes"]:
        if node["id"] == "store-chicago":
            node["handling"] = {"per_shipment": "90.00", "per_unit": "9.00"}
    plan = route(data)
    assert plan.shipments[0].node == "store-chicago"
    assert sum(ln.qty for ln in plan.shipments[0].lines) == 3


def test_bopis_transfers_are_rated_to_the_pickup_node() -> None:
    plan = route(load_example("bopis"))
    dallas = next(s for s in plan.shipments if s.node == "wh-dallas")
    # Dallas -> Chicago store, not to any customer address.
    assert dallas.distance_miles == pytest.approx(810.1, abs=0.1)
