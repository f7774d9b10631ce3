"""Hypothesis generators of small random scenarios, and an exhaustive solver to check against."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from dom_workflows.routing.cost import Alloc, allocation_cost
from dom_workflows.routing.problem import Problem

SERVICES = ["ground", "express"]
ZONES = [[80, "1"], [300, "2"], [None, "3"]]


def rates() -> dict[str, Any]:
    return {
        "zones": ZONES,
        "services": {
            "ground": {
                "transit_days": {"1": 1, "2": 3, "3": 5},
                "base": {"1": "4.10", "2": "5.35", "3": "7.00"},
                "per_lb": {"1": "0.30", "2": "0.55", "3": "0.95"},
            },
            "express": {
                "transit_days": {"1": 1, "2": 1, "3": 2},
                "base": {"1": "8.00", "2": "9.90", "3": "12.40"},
                "per_lb": {"1": "0.70", "2": "1.10", "3": "1.60"},
            },
        },
    }


def examples(n: int) -> int:
    """`n` property examples, times ROUTING_PROPERTY_SCALE (default 1) for a deeper local run,
    e.g. `ROUTING_PROPERTY_SCALE=10 pytest tests/routing`."""
    return n * int(os.environ.get("ROUTING_PROPERTY_SCALE", "1"))


money = st.integers(min_value=0, max_value=600).map(lambda c: f"{c / 100:.2f}")


@st.composite
def scenarios(draw: st.DrawFn, max_nodes: int = 4, max_skus: int = 3, max_qty: int = 2) -> dict:
    n_nodes = draw(st.integers(2, max_nodes))
    n_skus = draw(st.integers(1, max_skus))
    types = ["warehouse", "store", "3pl", "dropship"]
    nodes = []
    for k in range(n_nodes):
        nodes.append(
            {
                "id": f"n{k}",
                "type": draw(st.sampled_from(types)),
                # A few degrees around Kansas: distances from 0 to ~500 miles, all three zones.
                "lat": draw(st.floats(37.0, 41.0)),
                "lon": draw(st.floats(-100.0, -94.0)),
                "priority": draw(st.integers(1, 5)),
                "handling": {"per_shipment": draw(money), "per_unit": draw(money)},
                "capacity_remaining": draw(st.sampled_from([None] * 8 + [0, 3])),
                "services": draw(
                    st.sampled_from([["ground", "express"]] * 4 + [["ground"], ["express"]])
                ),
                "pickup": True,
            }
        )
    skus = [
        {
            "sku": f"S{i}",
            # Tenths of a pound so that ceil() matters; 0 lb allowed too.
            "weight_lb": draw(st.integers(0, 45)) / 10,
            "tags": draw(st.sampled_from([[], ["high-margin"]])),
        }
        for i in range(n_skus)
    ]
    inventory = []
    for node in nodes:
        for sku in skus:
            if draw(st.integers(0, 3)) > 0:
                inventory.append(
                    {
                        "node": node["id"],
                        "sku": sku["sku"],
                        "on_hand": draw(st.integers(0, 5)),
                        "reserved": draw(st.integers(0, 1)),
                        "safety_stock": draw(st.integers(0, 1)),
                    }
                )
    rules: list[dict] = []
    if draw(st.booleans()):
        rules.append({"name": "fastest", "when": {}, "then": {"require_fastest": True}})
    if draw(st.booleans()):
        rules.append(
            {
                "name": "hm",
                "when": {"sku_tags": ["high-margin"]},
                "then": {"exclude_node_types": ["store"]},
            }
        )
    if draw(st.booleans()):
        amount = draw(st.sampled_from(["-2.50", "1.75", "4.00"]))
        node_type = draw(st.sampled_from(types))
        rules.append(
            {
                "name": "adj",
                "when": {},
                "then": {"adjust_cost": [{"node_types": [node_type], "amount": amount}]},
            }
        )
    policy = {
        "split_penalty": draw(money),
        "max_shipments": draw(st.integers(1, 3)),
        # Small penalties make backordering a real choice; large ones force coverage.
        "backorder_penalty_per_unit": draw(
            st.sampled_from(["3.00", "9.00", "20.00", "40.00", "40.00"])
        ),
        "rules": rules,
    }
    lines = [
        {"sku": sku["sku"], "qty": draw(st.integers(1, max_qty)), "line_id": f"L{i}"}
        for i, sku in enumerate(skus)
    ]
    pickup = draw(st.integers(0, 4)) == 0
    order: dict[str, Any] = {
        "id": "o",
        "lines": lines,
        "service_level": draw(st.sampled_from(SERVICES)),
        "promise_days": draw(st.sampled_from([None] * 6 + [2, 4])),
    }
    if pickup:
        order["delivery"] = "pickup"
        order["pickup_node"] = draw(st.sampled_from([n["id"] for n in nodes]))
    else:
        order["ship_to"] = {
            "lat": draw(st.floats(37.0, 41.0)),
            "lon": draw(st.floats(-100.0, -94.0)),
        }
    return {
        "nodes": nodes,
        "skus": skus,
        "inventory": inventory,
        "rates": rates(),
        "policy": policy,
        "order": order,
    }


def _allocations(prob: Problem) -> Iterator[Alloc]:
    """Every feasible allocation (including the empty one), by plain enumeration."""
    rem = prob.remaining
    slots = prob.max_shipments - prob.base_shipments
    n = len(prob.cands)
    per_sku: list[list[tuple[int, ...]]] = []
    for i, r in enumerate(rem):
        ranges = [range(min(c.stock[i], r) + 1) for c in prob.cands]
        per_sku.append([v for v in itertools.product(*ranges) if sum(v) <= r])
    for combo in itertools.product(*per_sku):
        used = [j for j in range(n) if any(v[j] for v in combo)]
        if len(used) > max(slots, 0):
            continue
        yield {j: [v[j] for v in combo] for j in used}


def brute_force(prob: Problem) -> tuple[int, Alloc]:
    """Minimum total over every feasible allocation, by plain enumeration."""
    best: tuple[int, Alloc] | None = None
    for alloc in _allocations(prob):
        total = allocation_cost(prob, alloc).total
        if best is None or total < best[0]:
            best = (total, alloc)
    assert best is not None
    return best


def best_by_node_set(prob: Problem) -> dict[frozenset[int], int]:
    """Minimum total per exact set of shipping candidates (cand indices), by enumeration."""
    best: dict[frozenset[int], int] = {}
    for alloc in _allocations(prob):
        used = frozenset(alloc)
        total = allocation_cost(prob, alloc).total
        if used not in best or total < best[used]:
            best[used] = total
    return best
