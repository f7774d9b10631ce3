"""Shared by tests/shadow: a routing input for the demo network and policies built from the
live one (the demo's examples/policy.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from dom_workflows.config import Settings
from dom_workflows.inventory.models import (
    OrderToRoute,
    ReserveAndRouteInput,
    SourcingLine,
    ValidatedOrder,
)
from dom_workflows.money import Money
from dom_workflows.routing import Policy, load_policy
from tests.support.harness import make_order

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SKU = "BOOT-HIKE-9"


def route_input(order_id: str, qty: int = 2, attempt: int = 1) -> ReserveAndRouteInput:
    return ReserveAndRouteInput(
        order=OrderToRoute.of(make_order([(SKU, qty)], order_id=order_id)),
        destination=ValidatedOrder(
            ship_to_lat=40.7484,
            ship_to_lon=-73.9967,
            ship_to_state="NY",
            ship_to_zip="10118",
            order_value=Money(amount=Decimal("100.00")),
        ),
        attempt=attempt,
        lines=[SourcingLine(line_id="1", sku=SKU, qty=qty, unit_price=Decimal("50.00"))],
        weekday="wed",
    )


def live_policy() -> Policy:
    return load_policy(Settings().policy_path)


def without(*nodes: str) -> Policy:
    """The live policy plus a rule that forbids `nodes`."""
    rule = {"name": "shadow-forbids", "when": {}, "then": {"exclude_nodes": list(nodes)}}
    doc = live_policy().model_dump(mode="json")
    return Policy.model_validate({**doc, "rules": [*doc["rules"], rule]})
