"""The fulfilment network as configuration: nodes, SKUs, starting inventory, rate card and SLAs.

Loaded by workers and the CLI (never inside a workflow); the routing engine and the ledger both read it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.order.models import OrderPolicy

NodeType = Literal["warehouse", "store", "3pl", "dropship"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]


class Handling(BaseModel):
    per_shipment: Decimal
    per_unit: Decimal


class NodeCapacity(BaseModel):
    """How much routing may assign to a node per local day (orders or units)."""

    limit: int = Field(ge=0)
    unit: Literal["orders", "units"] = "orders"


class NodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    type: NodeType
    lat: float
    lon: float
    city: str = ""
    state: str = ""
    zip: str = ""
    priority: int = 10
    handling: Handling
    capacity_remaining: int | None = None
    services: list[str] = Field(default_factory=lambda: ["ground"])
    pickup: bool = False
    # Where fulfilment requests are POSTed; None = the local no-op adapter (demo without partners).
    endpoint: str | None = None
    partner_id: str | None = None
    # The calendar promises are dated with (seeded into node_settings, changed live by ops).
    timezone: str = "UTC"  # IANA name
    cutoff: str = Field(default="16:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # Working days between the day an order is taken and the day it ships (0: same day when
    # taken before the cut-off on a working day).
    handling_days: int = Field(default=0, ge=0)
    working_days: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    capacity: NodeCapacity | None = None


class SkuConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    sku: str
    name: str
    weight_lb: float
    tags: list[str] = Field(default_factory=list)
    price: Decimal


class InventorySeed(BaseModel):
    node: str
    sku: str
    on_hand: int = Field(ge=0)
    safety_stock: int = Field(default=0, ge=0)


class Holiday(BaseModel):
    day: date
    name: str = ""
    nodes: list[str] | None = None  # None: the whole network and the carriers


class ChannelConfig(BaseModel):
    cart_hold_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Units kept back from what the channel is told it can sell, per SKU.
    safety_buffer: int = Field(default=0, ge=0)


class NodeSla(BaseModel):
    accept_within: timedelta
    ship_within: timedelta
    deliver_within: timedelta


class Network(BaseModel):
    currency: str = "USD"
    nodes: list[NodeConfig]
    skus: list[SkuConfig]
    inventory: list[InventorySeed] = Field(default_factory=list)
    rates: dict[str, Any]
    sla: dict[str, NodeSla]
    order_policy: OrderPolicy = Field(default_factory=OrderPolicy)
    holidays: list[Holiday] = Field(default_factory=list)
    # Days the carriers move parcels; transit days count only these.
    carrier_days: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    # Per service: days added to transit for the late end of the delivery window.
    delivery_spread_days: dict[str, int] = Field(default_factory=lambda: {"ground": 1})
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)

    def channel(self, name: str) -> ChannelConfig:
        return self.channels.get(name, ChannelConfig())

    def node(self, node_id: str) -> NodeConfig:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(f"unknown node {node_id!r}")

    def sku_map(self) -> dict[str, SkuConfig]:
        return {s.sku: s for s in self.skus}

    def sla_for(self, node_id: str) -> NodeSla:
        return self.sla[self.node(node_id).type]


def load_network(path: str | Path) -> Network:
    return Network.model_validate(json.loads(Path(path).read_text()))
