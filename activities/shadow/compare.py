"""A plan in the shadow report's terms, and the shadow plan of a scenario under another policy.

Pure: no I/O. The live plan and every shadow plan are reduced to the same few figures (cost,
shipments, backordered units, promise met, nodes) so the report can subtract them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dom_workflows.routing import Plan, Policy, Scenario
from dom_workflows.routing.cost import Alloc, allocation_cost, shipment_cost
from dom_workflows.routing.explain import dollars
from dom_workflows.routing.optimal import solve_optimal
from dom_workflows.routing.problem import Problem, build_problem


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a plan does for one order."""

    cost: Decimal  # the router's objective under the plan's own policy (penalties included)
    spend: Decimal  # what is paid: shipping + handling, the same terms under every policy
    shipments: int
    backordered_units: int
    promise_met: bool
    nodes: tuple[str, ...]


def promise_met(plan: Plan, promise_days: int | None) -> bool:
    """Every unit ships and (with a promise in days) the slowest shipment arrives within it."""
    if plan.backordered_units:
        return False
    days = plan.delivery_days
    return promise_days is None or days is None or days <= promise_days


def outcome(plan: Plan, promise_days: int | None) -> Outcome:
    return Outcome(
        cost=Decimal(plan.total_cost),
        spend=Decimal(plan.cost_breakdown.shipping) + Decimal(plan.cost_breakdown.handling),
        shipments=len(plan.shipments),
        backordered_units=plan.backordered_units,
        promise_met=promise_met(plan, promise_days),
        nodes=tuple(s.node for s in plan.shipments),
    )


def outcome_of(prob: Problem, alloc: Alloc, promise_days: int | None) -> Outcome:
    """The outcome `build_plan` would give the allocation, without building the Plan and its
    explanation (most of a shadow plan's time otherwise; tests/shadow/test_compare.py checks
    the two agree)."""
    ac = allocation_cost(prob, alloc)
    nodes: list[str] = []
    days: list[int] = []
    if prob.pickup is not None and prob.forced and any(prob.forced):
        nodes.append(prob.pickup.node)
        days.append(0)
    for j in sorted(alloc, key=lambda j: (prob.cands[j].distance, prob.cands[j].node)):
        qty = alloc[j]
        if any(qty):
            cand = prob.cands[j]
            weight = sum(q * w for q, w in zip(qty, prob.weight, strict=True))
            nodes.append(cand.node)
            days.append(shipment_cost(cand, sum(qty), weight).transit_days)
    met = ac.backordered_units == 0 and (
        promise_days is None or not days or max(days) <= promise_days
    )
    return Outcome(
        cost=dollars(ac.total),
        spend=dollars(ac.shipping + ac.handling),
        shipments=ac.shipments,
        backordered_units=ac.backordered_units,
        promise_met=met,
        nodes=tuple(nodes),
    )


def plan_under(scenario: Scenario, policy: Policy) -> Outcome | str:
    """The optimal plan of the scenario's order under `policy` (same stock, nodes and rates), or
    why it cannot be planned (a policy may exclude every node that stocks a SKU)."""
    try:
        prob = build_problem(scenario.model_copy(update={"policy": policy}))
        alloc = solve_optimal(prob)
    except ValueError as e:  # RoutingError
        return str(e)[:300]
    return outcome_of(prob, alloc, scenario.order.promise_days)
