"""Routing engine: which nodes ship which units, at provably minimum cost, and why.

Pure and deterministic: no I/O at import or call time (ZIPs are geocoded from packaged data
on first use), so it is safe inside the Temporal workflow sandbox.
"""

from .api import STRATEGIES, plan_route
from .errors import RoutingError
from .models import (
    Alternative,
    Candidate,
    CostBreakdown,
    ExcludedNode,
    Explanation,
    Order,
    OrderLine,
    Plan,
    PlanLine,
    PlannedShipment,
    Scenario,
    load_scenario,
)
from .policy import Policy, Rule, load_policy

__all__ = [
    "STRATEGIES",
    "Alternative",
    "Candidate",
    "CostBreakdown",
    "ExcludedNode",
    "Explanation",
    "Order",
    "OrderLine",
    "Plan",
    "PlanLine",
    "PlannedShipment",
    "Policy",
    "RoutingError",
    "Rule",
    "Scenario",
    "load_policy",
    "load_scenario",
    "plan_route",
]
