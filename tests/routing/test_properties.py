"""Property tests: optimal is exact (equals exhaustive search) and never beaten by a baseline."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from dom_workflows.routing import STRATEGIES, Scenario
from dom_workflows.routing.cost import allocation_cost, check_feasible
from dom_workflows.routing.problem import build_problem

from .gen import brute_force, examples, scenarios

SETTINGS = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(scenarios())
def test_optimal_equals_exhaustive_search(data: dict) -> None:
    prob = build_problem(Scenario.model_validate(data))
    best, _ = brute_force(prob)
    alloc = STRATEGIES["optimal"](prob)
    check_feasible(prob, alloc)
    assert allocation_cost(prob, alloc).total == best


@SETTINGS
@given(scenarios(max_nodes=6, max_skus=4, max_qty=3))
def test_every_strategy_is_feasible_and_never_cheaper_than_optimal(data: dict) -> None:
    prob = build_problem(Scenario.model_validate(data))
    optimal = allocation_cost(prob, STRATEGIES["optimal"](prob)).total
    for name, solve in STRATEGIES.items():
        alloc = solve(prob)
        check_feasible(prob, alloc)
        assert allocation_cost(prob, alloc).total >= optimal, name


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_nodes=7, max_skus=3, max_qty=1))
def test_optimal_equals_exhaustive_search_on_wider_networks(data: dict) -> None:
    # More nodes than units per SKU: exercises the node-set search and its bounds.
    prob = build_problem(Scenario.model_validate(data))
    best, _ = brute_force(prob)
    assert allocation_cost(prob, STRATEGIES["optimal"](prob)).total == best
