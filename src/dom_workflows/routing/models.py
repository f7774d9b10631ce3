"""The routing contract: the Scenario read by `dom route` and the Plan it answers with.

Nodes, SKUs and inventory ignore unknown keys so that network config entries pass straight
through; everything else is strict so that typos in a scenario fail loudly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .policy import Dec, NodeType, Policy, Weekday


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- scenario


class Handling(_Loose):
    per_shipment: Dec = Field(ge=0)
    per_unit: Dec = Field(ge=0)


class Node(_Loose):
    id: str = Field(min_length=1)
    type: NodeType
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    priority: int = 100
    handling: Handling
    capacity_remaining: int | None = None
    # Live daily capacity (the ledger's count, e.g. "120/120 orders today"): the exclusion
    # reason when capacity_remaining <= 0.
    capacity_note: str | None = None
    # Units the node may still take today (capacity in units); caps what it may supply.
    capacity_units: int | None = Field(default=None, ge=0)
    # Share of today's capacity already used (0..1+); priced by policy.balance_per_utilisation.
    utilisation: float | None = Field(default=None, ge=0)
    services: list[str] = Field(default_factory=lambda: ["ground"])
    pickup: bool = False
    # Optional; let pickup orders match destination rules (state, ZIP prefix).
    state: str | None = None
    zip: str | None = None


class Sku(_Loose):
    sku: str = Field(min_length=1)
    weight_lb: Dec = Field(ge=0)
    tags: list[str] = Field(default_factory=list)
    price: Dec | None = None


class InventoryPosition(_Loose):
    node: str
    sku: str
    on_hand: int
    reserved: int = 0
    safety_stock: int = 0

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class ServiceRate(_Strict):
    transit_days: dict[str, int]
    base: dict[str, Dec]
    per_lb: dict[str, Dec]

    @field_validator("base", "per_lb")
    @classmethod
    def _non_negative(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [z for z, amount in v.items() if amount < 0]
        if bad:
            raise ValueError(f"negative rates for zones {bad}")
        return v


class Rates(_Strict):
    zones: list[tuple[float | None, str]] = Field(min_length=1)
    services: dict[str, ServiceRate] = Field(min_length=1)


class ShipTo(_Strict):
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    zip: str | None = None
    state: str | None = None

    @model_validator(mode="after")
    def _located(self) -> ShipTo:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("ship_to needs both lat and lon")
        if self.lat is None and not self.zip:
            raise ValueError("ship_to needs lat/lon or zip")
        return self


class OrderLine(_Strict):
    sku: str
    qty: int = Field(ge=1)
    line_id: str | None = None
    unit_price: Dec | None = None


class Order(_Strict):
    id: str = "order"
    lines: list[OrderLine] = Field(min_length=1)
    ship_to: ShipTo | None = None
    service_level: str = "ground"
    promise_days: int | None = Field(default=None, ge=0)
    customer_tier: str = "standard"
    delivery: Literal["ship", "pickup"] = "ship"
    pickup_node: str | None = None
    weekday: Weekday | None = None
    tags: list[str] = Field(default_factory=list)
    # node id -> reason; the order workflow fills it after a node rejected the order.
    excluded_nodes: dict[str, str] = Field(default_factory=dict)

    @field_validator("excluded_nodes", mode="before")
    @classmethod
    def _list_to_dict(cls, v: Any) -> Any:
        if isinstance(v, list):
            return {str(n): "excluded" for n in v}
        return v

    @model_validator(mode="after")
    def _delivery(self) -> Order:
        if self.delivery == "pickup" and not self.pickup_node:
            raise ValueError("delivery 'pickup' needs pickup_node")
        if self.delivery == "ship" and self.ship_to is None:
            raise ValueError("delivery 'ship' needs ship_to")
        return self


class Scenario(_Strict):
    nodes: list[Node] = Field(min_length=1)
    skus: list[Sku]
    inventory: list[InventoryPosition]
    rates: Rates
    policy: Policy = Field(default_factory=Policy)
    order: Order

    # Extra top-level keys (currency, sla) come along when a whole network file is reused.
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- plan


class PlanLine(BaseModel):
    sku: str
    qty: int
    line_id: str | None = None


class Adjustment(BaseModel):
    rule: str
    amount: Dec


class PlannedShipment(BaseModel):
    node: str
    node_type: str
    lines: list[PlanLine]
    service: str  # "pickup" when the units are handed over in place (BOPIS)
    zone: str
    distance_miles: float
    transit_days: int
    billable_lb: int
    shipping_cost: Dec
    handling_cost: Dec
    adjustments: list[Adjustment] = Field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class CostBreakdown(BaseModel):
    shipping: Dec
    handling: Dec
    split_penalty: Dec
    backorder_penalty: Dec
    rule_adjustments: Dec


class Candidate(BaseModel):
    node: str
    node_type: str
    distance_miles: float
    zone: str
    service: str
    transit_days: int
    usable_units: int  # order units this node could supply on its own


class ExcludedNode(BaseModel):
    node: str
    reason: str
    sku: str | None = None  # set when the node is excluded for this SKU only


class Alternative(BaseModel):
    strategy: str
    total_cost: Dec
    delta: Dec  # alternative minus this plan
    shipments_count: int
    nodes: list[str]
    backordered_units: int


class Explanation(BaseModel):
    summary: str
    candidates: list[Candidate] = Field(default_factory=list)
    excluded: list[ExcludedNode] = Field(default_factory=list)
    rules_applied: list[str] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Plan(BaseModel):
    strategy: str
    order_id: str
    shipments: list[PlannedShipment]
    backordered: list[PlanLine]
    total_cost: Dec
    shipments_count: int
    cost_breakdown: CostBreakdown
    explanation: Explanation

    @property
    def backordered_units(self) -> int:
        return sum(line.qty for line in self.backordered)

    @property
    def delivery_days(self) -> int | None:
        return max((s.transit_days for s in self.shipments), default=None)


def load_scenario(source: Any) -> Scenario:
    """Validate a scenario from a dict, JSON text or a path; raises RoutingError, never pydantic's."""
    import json
    import os

    from .errors import RoutingError, describe_validation_error

    if isinstance(source, Scenario):
        return source
    data: Any = source
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ):
        try:
            with open(source, encoding="utf-8") as fh:
                source = fh.read()
        except OSError as exc:
            raise RoutingError(f"cannot read scenario {source}: {exc.strerror}") from exc
    if isinstance(source, str | bytes):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as exc:
            raise RoutingError(
                f"scenario is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc
    if not isinstance(data, dict):
        raise RoutingError("scenario must be a JSON object with nodes, skus, inventory, rates, ...")
    if isinstance(data.get("policy"), str):
        from .policy import load_policy

        data = {**data, "policy": load_policy(data["policy"])}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise RoutingError(describe_validation_error("scenario", exc)) from exc
