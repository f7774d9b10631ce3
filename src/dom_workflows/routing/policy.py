"""Routing policy: penalties, the shipment cap and the business rules, all as data.

A rule is `when` (conditions, all of which must hold; a list means "any of") and `then`
(actions). Conditions on SKU tags scope exclusions and floors to the matching SKUs only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

CENTS = Decimal("0.01")

NodeType = Literal["warehouse", "store", "3pl", "dropship"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _to_decimal(v: Any) -> Any:
    # JSON numbers arrive as floats; str() keeps what the author typed ("3.1", not 3.1000000000000000888).
    if isinstance(v, float):
        return Decimal(str(v))
    if isinstance(v, int) and not isinstance(v, bool):
        return Decimal(v)
    return v


def _cents(v: Decimal) -> Decimal:
    return v.quantize(CENTS, ROUND_HALF_EVEN)


# Money in the routing package: a Decimal rounded to cents, serialised as a string in JSON.
Dec = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class When(_Strict):
    customer_tier: list[str] | None = None
    dest_state: list[str] | None = None
    dest_zip_prefix: list[str] | None = None
    weekday: list[Weekday] | None = None
    min_order_value: Dec | None = None
    max_order_value: Dec | None = None
    sku_tags: list[str] | None = None
    delivery: list[Literal["ship", "pickup"]] | None = None
    order_tags: list[str] | None = None


class NodeSelector(_Strict):
    nodes: list[str] = Field(default_factory=list)
    node_types: list[NodeType] = Field(default_factory=list)

    def selects(self, node_id: str, node_type: str) -> bool:
        return node_id in self.nodes or node_type in self.node_types


class CostAdjustment(NodeSelector):
    amount: Dec  # per shipment from a selected node; negative = preference bonus


class Floor(NodeSelector):
    floor: int = Field(ge=0)  # ATP units kept back at the node for walk-in customers


class Then(_Strict):
    exclude_nodes: list[str] = Field(default_factory=list)
    exclude_node_types: list[NodeType] = Field(default_factory=list)
    adjust_cost: list[CostAdjustment] = Field(default_factory=list)
    require_fastest: bool = False
    max_shipments: int | None = Field(default=None, ge=1)
    protect_floor: Floor | None = None


class Rule(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    when: When = Field(default_factory=When)
    then: Then


class Policy(_Strict):
    split_penalty: Dec = Field(default=Decimal("0"), ge=0)
    max_shipments: int = Field(default=4, ge=1)
    backorder_penalty_per_unit: Dec = Field(default=Decimal("0"), ge=0)
    # Load balancing: added to a shipment from a node per unit of the node's utilisation of its
    # daily capacity (1.0 = at its limit), so a less loaded node wins a near tie. 0 = off.
    balance_per_utilisation: Dec = Field(default=Decimal("0"), ge=0)
    rules: list[Rule] = Field(default_factory=list)


def load_policy(source: Any) -> Policy:
    """Parse a policy from a dict, a Policy, YAML/JSON text, or a path to a .yaml/.json file."""
    from .errors import RoutingError

    if isinstance(source, Policy):
        return source
    data: Any = source
    if not isinstance(source, dict):
        import os

        text: str
        if isinstance(source, os.PathLike) or (
            isinstance(source, str) and "\n" not in source and os.path.exists(source)
        ):
            try:
                with open(source, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise RoutingError(f"cannot read policy {source}: {exc}") from exc
        elif isinstance(source, str):
            text = source
        else:
            raise RoutingError(f"policy must be a mapping, YAML text or a path, not {source!r}")
        import yaml  # deferred: keeps the workflow sandbox import cheap

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RoutingError(f"policy is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RoutingError("policy must be a mapping with split_penalty, max_shipments, ...")
    from pydantic import ValidationError

    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        from .errors import describe_validation_error

        raise RoutingError(describe_validation_error("policy", exc)) from exc
