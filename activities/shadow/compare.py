"""A plan in the shadow report's terms, and the shadow plan of a scenario under another policy.

Pure: no I/O. The live plan and every shadow plan are reduced to the same few figures (cost,
shipments, backordered units, promise met, nodes) so the report can subtract them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dom_workflows.routing import Plan, Policy, Scenario, plan_route


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a plan does for one order."""

    cost: Decimal
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
        shipments=len(plan.shipments),
        backordered_units=plan.backordered_units,
        promise_met=promise_met(plan, promise_days),
        nodes=tuple(s.node for s in plan.shipments),
    )


def plan_under(scenario: Scenario, policy: Policy) -> Outcome | str:
    """The optimal plan of the scenario's order under `policy` (same stock, nodes and rates), or
    why it cannot be planned (a policy may exclude every node that stocks a SKU)."""
    try:
        plan = plan_route(
            scenario.model_copy(update={"policy": policy}), "optimal", alternatives=False
        )
    except ValueError as e:  # RoutingError
        return str(e)[:300]
    return outcome(plan, scenario.order.promise_days)
