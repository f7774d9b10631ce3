"""The joint re-plan of a release window: a worked example where moving one order's units lets
two split orders ship in one box each, and properties over random windows (never costs more than
the per-order plans, never breaks a kept promise, never backorders more, never uses more units
than exist)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_workflows.routing.batch import (
    Key,
    WindowOrder,
    holdings,
    outcome,
    plan_in_sequence,
    reoptimise,
)
from dom_workflows.routing.cost import check_feasible
from dom_workflows.routing.models import Scenario
from dom_workflows.routing.problem import Problem, build_problem
from tests.routing.gen import examples, rates, scenarios

HERE = {"lat": 39.0, "lon": -97.0}


def node(node_id: str, lat: float, priority: int) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "warehouse",
        "lat": lat,
        "lon": -97.0,
        "priority": priority,
        "handling": {"per_shipment": "1.50", "per_unit": "0.25"},
        "services": ["ground"],
    }


def problems(network: dict[str, Any], orders: list[dict[str, Any]]) -> list[Problem]:
    return [build_problem(Scenario.model_validate({**network, "order": o})) for o in orders]


def worked_example() -> list[Problem]:
    """Three warehouses, one unit of X each. n1 and n2 are next to the customers, n3 ~140 miles
    away; n1 also has P, n2 also has Q.

    Alone, in arrival order: C (just X) takes n1's X, the nearest; A (X + P) gets P from n1 and
    X from n2: split; B (X + Q) gets Q from n2 and the last X from n3: split. Jointly: C takes
    n3's X, A ships X + P from n1, B ships X + Q from n2: one box each."""
    network = {
        "nodes": [node("n1", 39.0, 1), node("n2", 39.01, 2), node("n3", 41.0, 3)],
        "skus": [{"sku": s, "weight_lb": 1} for s in ("X", "P", "Q")],
        "inventory": [
            {"node": "n1", "sku": "X", "on_hand": 1},
            {"node": "n1", "sku": "P", "on_hand": 1},
            {"node": "n2", "sku": "X", "on_hand": 1},
            {"node": "n2", "sku": "Q", "on_hand": 1},
            {"node": "n3", "sku": "X", "on_hand": 1},
        ],
        "rates": rates(),
        "policy": {
            "split_penalty": "3.00",
            "max_shipments": 3,
            "backorder_penalty_per_unit": "40.00",
        },
    }
    orders = [
        {"id": "C", "lines": [{"sku": "X", "qty": 1}], "ship_to": HERE},
        {"id": "A", "lines": [{"sku": "X", "qty": 1}, {"sku": "P", "qty": 1}], "ship_to": HERE},
        {"id": "B", "lines": [{"sku": "X", "qty": 1}, {"sku": "Q", "qty": 1}], "ship_to": HERE},
    ]
    return problems(network, orders)


def nodes_of(prob: Problem, alloc: dict[int, list[int]]) -> list[str]:
    return sorted(prob.cands[j].node for j, q in alloc.items() if any(q))


def test_two_split_orders_become_two_single_shipments() -> None:
    probs = worked_example()
    alone = plan_in_sequence(probs)
    assert [nodes_of(p, a) for p, a in zip(probs, alone, strict=True)] == [
        ["n1"],
        ["n1", "n2"],
        ["n2", "n3"],
    ]
    result = reoptimise(
        [WindowOrder(p, a, promise_days=5) for p, a in zip(probs, alone, strict=True)]
    )
    assert [nodes_of(p, a) for p, a in zip(probs, result.allocs, strict=True)] == [
        ["n3"],
        ["n1"],
        ["n2"],
    ]
    assert [o.shipments for o in result.before] == [1, 2, 2]
    assert [o.shipments for o in result.after] == [1, 1, 1]
    assert result.cost_after < result.cost_before
    assert result.promises_broken == 0


def test_a_move_that_would_break_a_kept_promise_is_not_made() -> None:
    # C was promised delivery in 1 day, which only n1 and n2 make: it cannot go to n3.
    probs = worked_example()
    alone = plan_in_sequence(probs)
    promise = [1, 5, 5]
    window = [WindowOrder(p, a, d) for p, a, d in zip(probs, alone, promise, strict=True)]
    result = reoptimise(window)
    assert result.before[0].promise_kept and result.after[0].promise_kept
    assert nodes_of(probs[0], result.allocs[0]) != ["n3"]
    assert result.cost_after <= result.cost_before


# ------------------------------------------------------------------ properties


@st.composite
def windows(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    network = draw(scenarios(max_nodes=4, max_skus=3, max_qty=2))
    network.pop("order")
    skus = [s["sku"] for s in network["skus"]]
    orders = []
    for n in range(draw(st.integers(2, 5))):
        picked = draw(st.lists(st.sampled_from(skus), min_size=1, max_size=len(skus), unique=True))
        orders.append(
            {
                "id": f"o{n}",
                "lines": [
                    {"sku": s, "qty": draw(st.integers(1, 2)), "line_id": f"L{k}"}
                    for k, s in enumerate(picked)
                ],
                "ship_to": {"lat": draw(st.floats(37.0, 41.0)), "lon": draw(st.floats(-100, -94))},
                "service_level": draw(st.sampled_from(["ground", "express"])),
                "promise_days": draw(st.sampled_from([None, None, 2, 4])),
            }
        )
    return network, orders


def shared_stock(network: dict[str, Any]) -> dict[Key, int]:
    """What exists to be planned: on hand minus reservations outside the window and safety."""
    return {
        (p["node"], p["sku"]): max(0, p["on_hand"] - p["reserved"] - p["safety_stock"])
        for p in network["inventory"]
    }


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(windows(), st.sampled_from([None, 3, 5]))
def test_joint_plan_never_worse_never_breaks_promises_never_oversells(
    window: tuple[dict[str, Any], list[dict[str, Any]]], default_promise: int | None
) -> None:
    network, orders = window
    probs = problems(network, orders)
    alone = plan_in_sequence(probs)
    promise = [o["promise_days"] or default_promise for o in orders]
    result = reoptimise(
        [WindowOrder(p, a, d) for p, a, d in zip(probs, alone, promise, strict=True)]
    )
    stock = shared_stock(network)
    for allocs in (alone, result.allocs):
        for key, units in holdings(probs, allocs).items():
            assert units <= stock.get(key, 0), f"{key}: {units} planned > {stock.get(key, 0)}"
    assert result.cost_after <= result.cost_before
    for prob, alloc, d, before, after in zip(
        probs, result.allocs, promise, result.before, result.after, strict=True
    ):
        check_feasible(prob, alloc)  # within the order's own usable stock, demand and cap
        assert outcome(prob, alloc, d) == after
        assert after.backordered_units <= before.backordered_units
        assert after.promise_kept or not before.promise_kept
    assert result.promises_broken == 0
