"""Messages of the promise API: a cart and a destination in, dated and priced options out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dom_workflows.money import Money

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromiseLine(_Strict):
    sku: str = Field(min_length=1, max_length=64, pattern=SKU_PATTERN)
    qty: int = Field(ge=1, le=10_000)
    line_id: str | None = Field(default=None, min_length=1, max_length=64)


class Destination(_Strict):
    """Where the cart goes: a US ZIP, coordinates, or a store for pickup (exactly one)."""

    zip: str | None = Field(default=None, pattern=r"^[0-9]{5}(-[0-9]{4})?$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    state: str | None = Field(default=None, min_length=2, max_length=2)
    pickup_node: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _exactly_one(self) -> Destination:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("destination needs both lat and lon")
        given = [self.zip is not None, self.lat is not None, self.pickup_node is not None]
        if sum(given) != 1:
            raise ValueError("destination needs exactly one of zip, lat/lon or pickup_node")
        return self


class PromiseRequest(_Strict):
    lines: list[PromiseLine] = Field(min_length=1, max_length=100)
    destination: Destination
    # The services to quote; a pickup destination is always quoted as "pickup".
    service_levels: list[str] = Field(default_factory=lambda: ["ground"], min_length=1)
    customer_tier: str = Field(default="standard", max_length=32)
    tags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("service_levels")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(v) > 5:
            raise ValueError("at most 5 service levels per promise")
        if len(set(v)) != len(v):
            raise ValueError("service_levels lists a service twice")
        return v

    @model_validator(mode="after")
    def _lines_unique(self) -> PromiseRequest:
        ids = [ln.line_id for ln in self.lines if ln.line_id is not None]
        if len(set(ids)) != len(ids):
            raise ValueError("line_id appears twice")
        return self


class PromisedLine(BaseModel):
    line_id: str
    sku: str
    qty: int


class PromisedShipment(BaseModel):
    node: str
    node_type: str
    service: str
    lines: list[PromisedLine]
    transit_days: int
    # The node's carrier cut-off on the day it ships (aware, in the node's time zone).
    ship_by: datetime
    delivery_earliest: date
    delivery_latest: date
    shipping_cost: Money
    handling_cost: Money


class LaterSupply(BaseModel):
    """Units not on hand anywhere, promised from stock on its way."""

    line_id: str
    sku: str
    qty: int
    node: str
    inbound_id: str
    expected_at: datetime
    ship_by: datetime
    delivery_earliest: date
    delivery_latest: date


class ShortLine(BaseModel):
    line_id: str
    sku: str
    qty: int


class ExcludedNodeNote(BaseModel):
    node: str
    reason: str
    sku: str | None = None


class PromiseExplanation(BaseModel):
    summary: str
    excluded: list[ExcludedNodeNote] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class PromiseOption(BaseModel):
    service_level: str
    # full: every unit ships now; partial: some ship now, the rest later or not at all.
    fulfillable: Literal["full", "partial", "later", "none"]
    shipments: list[PromisedShipment]
    later: list[LaterSupply] = Field(default_factory=list)
    unavailable: list[ShortLine] = Field(default_factory=list)
    ship_by: datetime | None
    delivery_earliest: date | None
    delivery_latest: date | None
    shipping_cost: Money
    total_cost: Money
    explanation: PromiseExplanation


class PromiseResponse(BaseModel):
    promised_at: datetime
    destination: str
    options: list[PromiseOption]
    cache: Literal["hit", "miss"]


class PickupStore(BaseModel):
    node: str
    name: str
    distance_miles: float
    available: int
    ready_by: datetime


class Availability(BaseModel):
    """For a product page: can it come, how fast, and where to pick it up."""

    sku: str
    zip: str | None
    available: int
    fastest: PromiseOption | None
    nearest_pickup: PickupStore | None
    as_of: datetime
