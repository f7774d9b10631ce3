"""The entry points: plan an order with a named strategy."""

from __future__ import annotations

from collections.abc import Callable

from .baselines import solve_distance, solve_fewest_splits, solve_priority, solve_shopify
from .cost import Alloc, check_feasible
from .errors import RoutingError
from .explain import alternative, build_plan, summarize
from .models import Plan, Scenario
from .optimal import solve_optimal
from .problem import Problem, build_problem

Solver = Callable[[Problem], Alloc]

STRATEGIES: dict[str, Solver] = {
    "optimal": solve_optimal,
    "priority": solve_priority,
    "distance": solve_distance,
    "shopify": solve_shopify,
    "fewest-splits": solve_fewest_splits,
}


def solver_for(strategy: str) -> Solver:
    solver = STRATEGIES.get(strategy.replace("_", "-"))
    if solver is None:
        raise RoutingError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return solver


def plan_route(scenario: Scenario, strategy: str = "optimal", *, alternatives: bool = True) -> Plan:
    """Plan the scenario's order; deterministic, no I/O. Raises RoutingError on invalid input.

    With `alternatives`, every other strategy is also run so the explanation can show what
    each would cost (for `optimal` they are cheap greedy passes).
    """
    name = strategy.replace("_", "-")
    solver = solver_for(name)
    prob = build_problem(scenario)
    alloc = solver(prob)
    check_feasible(prob, alloc)
    plan = build_plan(prob, alloc, name)
    if alternatives:
        for other, other_solver in STRATEGIES.items():
            if other == name:
                continue
            other_plan = build_plan(prob, other_solver(prob), other)
            plan.explanation.alternatives.append(alternative(plan, other_plan))
        plan.explanation.alternatives.sort(key=lambda a: (a.delta, a.strategy))
    plan.explanation.summary = summarize(plan)
    return plan
