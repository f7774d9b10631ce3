"""Plans explain themselves, keep order line ids, and survive a JSON round trip."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal

from dom_workflows.routing import Plan, load_scenario, plan_route
from tests.support.routing import load_example

from .test_cost import tiny


def test_plan_round_trips_through_json_with_decimals_as_strings() -> None:
    plan = plan_route(load_scenario(load_example("mixed-basket")))
    dumped = plan.model_dump(mode="json")
    assert isinstance(dumped["total_cost"], str)
    assert isinstance(dumped["shipments"][0]["shipping_cost"], str)
    assert isinstance(dumped["explanation"]["alternatives"][0]["delta"], str)
    again = Plan.model_validate(json.loads(json.dumps(dumped)))
    assert again == plan
    assert isinstance(again.total_cost, Decimal)


def test_summary_is_one_readable_line() -> None:
    plan = plan_route(load_scenario(load_example("mixed-basket")))
    assert re.fullmatch(
        r"2 shipments from [\w-]+, [\w-]+; \$\d+\.\d\d; cheapest alternative \+\$\d+\.\d\d \([\w-]+\)",
        plan.explanation.summary,
    ), plan.explanation.summary


def test_summary_mentions_backorders() -> None:
    data = tiny()
    data["order"]["lines"] = [{"sku": "X", "qty": 5}]
    plan = plan_route(load_scenario(data))
    assert "2 units backordered" in plan.explanation.summary


def test_alternatives_list_every_other_strategy_with_deltas() -> None:
    plan = plan_route(load_scenario(load_example("mixed-basket")))
    alts = {a.strategy: a for a in plan.explanation.alternatives}
    assert set(alts) == {"priority", "distance", "shopify", "fewest-splits"}
    for a in alts.values():
        assert a.delta == a.total_cost - plan.total_cost >= 0
    baseline = plan_route(load_scenario(load_example("mixed-basket")), "distance")
    assert {a.strategy for a in baseline.explanation.alternatives} >= {"optimal"}


def test_excluded_nodes_carry_their_reasons() -> None:
    data = tiny()
    data["nodes"].append(
        {
            "id": "C",
            "type": "3pl",
            "lat": 40.0,
            "lon": -99.0,
            "capacity_remaining": 0,
            "handling": {"per_shipment": "1", "per_unit": "0"},
        }
    )
    data["nodes"].append(
        {
            "id": "D",
            "type": "3pl",
            "lat": 40.0,
            "lon": -99.0,
            "services": ["express"],
            "handling": {"per_shipment": "1", "per_unit": "0"},
        }
    )
    data["nodes"].append(
        {
            "id": "E",
            "type": "warehouse",
            "lat": 40.0,
            "lon": -99.0,
            "handling": {"per_shipment": "1", "per_unit": "0"},
        }
    )
    data["inventory"].append({"node": "B", "sku": "X", "on_hand": 2, "safety_stock": 2})
    data["order"]["excluded_nodes"] = {"A": "rejected the order"}
    plan = plan_route(load_scenario(data))
    reasons = {(e.node, e.sku): e.reason for e in plan.explanation.excluded}
    assert reasons[("A", None)] == "excluded by order: rejected the order"
    assert reasons[("C", None)].startswith("capacity:")
    assert reasons[("D", None)] == "does not offer ground"
    assert reasons[("E", None)] == "no ATP for the order's SKUs"
    assert reasons[("B", "X")] == "floor stock: 2 free on hand <= safety stock 2"
    assert [c.node for c in plan.explanation.candidates] == ["B"]


def test_excluded_nodes_may_be_a_list() -> None:
    data = tiny()
    data["order"]["excluded_nodes"] = ["A"]
    plan = plan_route(load_scenario(data))
    assert "A" not in [s.node for s in plan.shipments]
    assert any(
        e.node == "A" and e.reason.startswith("excluded by order")
        for e in plan.explanation.excluded
    )


def test_line_ids_are_kept_when_a_line_is_split_across_nodes() -> None:
    data = tiny()
    data["inventory"].append({"node": "B", "sku": "X", "on_hand": 4})
    data["order"]["lines"] = [
        {"sku": "X", "qty": 2, "line_id": "L1"},
        {"sku": "X", "qty": 4, "line_id": "L2"},
    ]
    plan = plan_route(load_scenario(data))
    assert plan.shipments_count == 2
    per_line: dict[str | None, int] = {}
    for s in plan.shipments:
        for ln in s.lines:
            per_line[ln.line_id] = per_line.get(ln.line_id, 0) + ln.qty
    for ln in plan.backordered:
        per_line[ln.line_id] = per_line.get(ln.line_id, 0) + ln.qty
    assert per_line == {"L1": 2, "L2": 4}
    split = [s for s in plan.shipments if any(ln.line_id == "L2" for ln in s.lines)]
    assert len(split) == 2  # L2 comes from both nodes


def test_order_value_rules_use_unit_price_or_catalog_price() -> None:
    data = copy.deepcopy(load_example("mixed-basket"))
    data["policy"]["rules"] = [
        {"name": "big-order", "when": {"min_order_value": "1500"}, "then": {"max_shipments": 1}}
    ]
    # Catalog prices: 799 + 379 + 2 x 49 + 179 + 259 = 1714.
    assert "big-order" in plan_route(load_scenario(data)).explanation.rules_applied
    data["order"]["lines"][0]["unit_price"] = "10.00"
    assert "big-order" not in plan_route(load_scenario(data)).explanation.rules_applied


def test_cost_adjustments_are_itemised() -> None:
    plan = plan_route(load_scenario(load_example("mixed-basket")))
    ds = next(s for s in plan.shipments if s.node == "ds-portland")
    assert [(a.rule, a.amount) for a in ds.adjustments] == [("dropship-fee", Decimal("2.00"))]
    assert plan.cost_breakdown.rule_adjustments == Decimal("2.00")
