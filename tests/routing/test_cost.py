"""The cost model, checked by hand: every number below is computed here from the formula."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

from dom_workflows.geo import haversine_miles
from dom_workflows.routing import Scenario, plan_route
from dom_workflows.routing.cost import allocation_cost
from dom_workflows.routing.problem import build_problem

D = Decimal
DEST = (40.0, -99.9)
NODE_A = (40.0, -100.0)  # about 5 miles away: zone 1
NODE_B = (40.0, -97.0)  # about 150 miles away: zone 2


def tiny(**order: object) -> dict:
    return {
        "nodes": [
            {
                "id": "A",
                "type": "warehouse",
                "lat": NODE_A[0],
                "lon": NODE_A[1],
                "priority": 1,
                "handling": {"per_shipment": "1.50", "per_unit": "0.25"},
                "services": ["ground"],
            },
            {
                "id": "B",
                "type": "store",
                "lat": NODE_B[0],
                "lon": NODE_B[1],
                "priority": 5,
                "handling": {"per_shipment": 4, "per_unit": 0.75},
                "services": ["ground"],
                "extra_key_is_ignored": True,
            },
        ],
        "skus": [{"sku": "X", "weight_lb": 1.3}, {"sku": "Y", "weight_lb": "0.4"}],
        "inventory": [
            {"node": "A", "sku": "X", "on_hand": 5, "reserved": 1, "safety_stock": 1},
            {"node": "B", "sku": "Y", "on_hand": 3},
        ],
        "rates": {
            "zones": [[50, "1"], [300, "2"], [None, "3"]],
            "services": {
                "ground": {
                    "transit_days": {"1": 1, "2": 2, "3": 4},
                    "base": {"1": "5.10", "2": "5.40", "3": "6.00"},
                    "per_lb": {"1": "0.32", "2": "0.38", "3": "0.50"},
                }
            },
        },
        "policy": {
            "split_penalty": "1.25",
            "max_shipments": 3,
            "backorder_penalty_per_unit": "15.00",
        },
        "order": {
            "id": "T",
            "lines": [{"sku": "X", "qty": 2}, {"sku": "Y", "qty": 1}],
            "ship_to": {"lat": DEST[0], "lon": DEST[1]},
            **order,
        },
    }


def cents(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), ROUND_HALF_EVEN)


def test_zones_come_from_haversine_distance() -> None:
    a = haversine_miles(*NODE_A, *DEST)
    b = haversine_miles(*NODE_B, *DEST)
    assert a <= 50 < b <= 300
    plan = plan_route(Scenario.model_validate(tiny()))
    by_node = {s.node: s for s in plan.shipments}
    assert by_node["A"].zone == "1" and by_node["B"].zone == "2"
    assert by_node["A"].distance_miles == round(a, 1)


def test_two_shipment_plan_costs_exactly_the_formula() -> None:
    plan = plan_route(Scenario.model_validate(tiny()))
    # A: 2 x X = 2.6 lb -> 3 billable lb in zone 1; B: 1 x Y = 0.4 lb -> 1 lb in zone 2.
    ship_a = D("5.10") + D("0.32") * math.ceil(D("2.6"))
    hand_a = D("1.50") + D("0.25") * 2
    ship_b = D("5.40") + D("0.38") * math.ceil(D("0.4"))
    hand_b = D("4") + D("0.75") * 1
    total = ship_a + hand_a + ship_b + hand_b + D("1.25") * (2 - 1)
    # The alternative, backordering Y, costs A alone plus the penalty: more, so both ship.
    assert ship_a + hand_a + D("15.00") > total

    by_node = {s.node: s for s in plan.shipments}
    assert by_node["A"].billable_lb == 3 and by_node["B"].billable_lb == 1
    assert by_node["A"].shipping_cost == cents(ship_a)
    assert by_node["A"].handling_cost == cents(hand_a)
    assert by_node["B"].shipping_cost == cents(ship_b)
    assert by_node["B"].handling_cost == cents(hand_b)
    assert plan.total_cost == cents(total)
    assert plan.shipments_count == 2
    b = plan.cost_breakdown
    assert b.shipping == cents(ship_a + ship_b)
    assert b.handling == cents(hand_a + hand_b)
    assert b.split_penalty == D("1.25")
    assert b.backorder_penalty == D("0.00")
    assert (
        b.shipping + b.handling + b.split_penalty + b.backorder_penalty + b.rule_adjustments
        == plan.total_cost
    )


def test_backorder_is_priced_and_chosen_when_cheaper() -> None:
    data = tiny()
    data["policy"]["backorder_penalty_per_unit"] = "5.00"
    plan = plan_route(Scenario.model_validate(data))
    ship_a = D("5.10") + D("0.32") * 3
    hand_a = D("1.50") + D("0.25") * 2
    assert [s.node for s in plan.shipments] == ["A"]
    assert [(b.sku, b.qty) for b in plan.backordered] == [("Y", 1)]
    assert plan.total_cost == cents(ship_a + hand_a + D("5.00"))


def test_atp_is_on_hand_minus_reserved_minus_safety_stock() -> None:
    data = tiny()
    data["order"]["lines"] = [{"sku": "X", "qty": 5}]
    plan = plan_route(Scenario.model_validate(data))
    # A holds 5 on hand, 1 reserved, 1 safety stock: 3 can ship, 2 are backordered.
    assert sum(s.units for s in plan.shipments) == 3
    assert plan.backordered_units == 2
    assert plan.cost_breakdown.backorder_penalty == D("30.00")


def test_max_shipments_is_respected() -> None:
    data = tiny()
    data["policy"]["max_shipments"] = 1
    plan = plan_route(Scenario.model_validate(data))
    assert plan.shipments_count == 1
    assert plan.backordered_units == 1


def test_promise_days_filter_slow_shipments() -> None:
    plan = plan_route(Scenario.model_validate(tiny(promise_days=1)))
    assert [s.node for s in plan.shipments] == ["A"]
    reasons = {e.node: e.reason for e in plan.explanation.excluded}
    assert reasons["B"].startswith("promise:")


def test_costs_are_integers_in_cents_internally() -> None:
    prob = build_problem(Scenario.model_validate(tiny()))
    assert prob.weight == [1300, 400]
    assert prob.split == 125 and prob.backorder == 1500
    assert allocation_cost(prob, {}).total == 3 * 1500
