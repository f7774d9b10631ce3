"""The routing input of one decision as compact JSON, and the scenario rebuilt from it.

A snapshot holds what varies per decision: the router's order, the stock of the order's SKUs as
the live plan saw it (before its own reservation) and the live node fields (today's capacity).
The network's static part (nodes, SKUs, rates) comes from the network a replay runs against,
so `dom whatif --network FILE` can change it."""

from __future__ import annotations

from typing import Any

from dom_workflows.routing import Order, Policy, Scenario
from dom_workflows.routing.models import InventoryPosition, Node, Rates, Sku

# Node fields laid over the network's per decision (activities.inventory.capacity).
LIVE_NODE_FIELDS = ("capacity_remaining", "capacity_units", "utilisation")

Static = tuple[list[Node], list[Sku], Rates]


def snapshot_of(scenario: Scenario, static_nodes: list[Node]) -> dict[str, Any]:
    """What `scenario` adds to the network: the order, its SKUs' stock, changed node fields."""
    base = {n.id: n for n in static_nodes}
    nodes: dict[str, dict[str, Any]] = {}
    for n in scenario.nodes:
        was = base.get(n.id)
        changed = {
            f: getattr(n, f)
            for f in LIVE_NODE_FIELDS
            if was is None or getattr(n, f) != getattr(was, f)
        }
        if changed:
            nodes[n.id] = changed
    return {
        "order": scenario.order.model_dump(mode="json", exclude_defaults=True),
        "stock": [
            [p.node, p.sku, p.on_hand, p.reserved, p.safety_stock] for p in scenario.inventory
        ],
        "nodes": nodes,
    }


def scenario_of(snapshot: dict[str, Any], static: Static, policy: Policy) -> Scenario:
    """The scenario a snapshot was planned on, against `static` (a node the network no longer
    has is dropped with its fields; its stock then names an unknown node and is dropped too)."""
    nodes, skus, rates = static
    live: dict[str, dict[str, Any]] = snapshot.get("nodes", {})
    known = {n.id for n in nodes}
    return Scenario.model_construct(
        nodes=[n.model_copy(update=live[n.id]) if n.id in live else n for n in nodes],
        skus=skus,
        inventory=[
            InventoryPosition.model_construct(
                node=node, sku=sku, on_hand=on_hand, reserved=reserved, safety_stock=safety
            )
            for node, sku, on_hand, reserved, safety in snapshot["stock"]
            if node in known
        ],
        rates=rates,
        policy=policy,
        order=Order.model_validate(snapshot["order"]),
    )
