"""Live capacity as the router sees it: a full node is excluded with its note, a units-mode node
supplies at most the units it may still take, and the balancing term prices a node's load."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dom_workflows.routing import load_scenario, plan_route

from .test_cost import tiny


def one_x(qty: int = 1, **policy: Any) -> dict[str, Any]:
    data = tiny()
    data["inventory"] = [
        {"node": "A", "sku": "X", "on_hand": 50},
        {"node": "B", "sku": "X", "on_hand": 50},
    ]
    data["order"]["lines"] = [{"sku": "X", "qty": qty}]
    data["policy"] = {**data["policy"], **policy}
    return data


def only(data: dict[str, Any], node: str) -> dict[str, Any]:
    """The scenario with one node (and its stock) left."""
    return {
        **data,
        "nodes": [n for n in data["nodes"] if n["id"] == node],
        "inventory": [p for p in data["inventory"] if p["node"] == node],
    }


def nodes_of(data: dict[str, Any]) -> dict[str, int]:
    plan = plan_route(load_scenario(data))
    return {s.node: s.units for s in plan.shipments}


def test_a_full_node_is_excluded_with_its_note() -> None:
    data = one_x()
    assert nodes_of(data) == {"A": 1}
    data["nodes"][0].update(capacity_remaining=0, capacity_note="120/120 orders today")
    plan = plan_route(load_scenario(data))
    assert [s.node for s in plan.shipments] == ["B"]
    [why] = [e.reason for e in plan.explanation.excluded if e.node == "A"]
    assert why == "capacity: 120/120 orders today"


def test_units_left_cap_what_a_node_supplies() -> None:
    data = one_x(qty=4, split_penalty="0", backorder_penalty_per_unit="100")
    assert nodes_of(data) == {"A": 4}
    data["nodes"][0].update(capacity_remaining=3, capacity_units=3)
    plan = plan_route(load_scenario(data))
    assert {c.node: c.usable_units for c in plan.explanation.candidates}["A"] == 3
    alone = plan_route(load_scenario(only(data, "A")))
    assert [s.units for s in alone.shipments] == [3] and alone.backordered_units == 1


def test_balancing_prefers_the_less_loaded_node_at_its_stated_price() -> None:
    loaded = one_x()
    loaded["nodes"][0]["utilisation"] = 0.9
    loaded["nodes"][1]["utilisation"] = 0.0
    assert nodes_of(loaded) == {"A": 1}  # balancing off: the load costs nothing
    gap = (
        plan_route(load_scenario(only(loaded, "B"))).total_cost
        - plan_route(load_scenario(only(loaded, "A"))).total_cost
    )
    assert gap > 0  # B really is dearer
    # Just below the gap per 90% load A still wins; just above, B does.
    below = (gap / Decimal("0.9") - Decimal("0.05")).quantize(Decimal("0.01"))
    above = (gap / Decimal("0.9") + Decimal("0.05")).quantize(Decimal("0.01"))
    assert nodes_of(
        {**loaded, "policy": {**loaded["policy"], "balance_per_utilisation": str(below)}}
    ) == {"A": 1}
    cheaper = {**loaded, "policy": {**loaded["policy"], "balance_per_utilisation": str(above)}}
    plan = plan_route(load_scenario(cheaper))
    assert [s.node for s in plan.shipments] == ["B"]
    # The term is in the plan, priced on the node it was charged to (B carries none at 0%).
    assert plan.shipments[0].adjustments == []
    alt = plan_route(load_scenario(only(cheaper, "A")))
    assert [(a.rule, a.amount) for a in alt.shipments[0].adjustments] == [
        ("balance", (above * Decimal("0.9")).quantize(Decimal("0.01")))
    ]
