"""Messages of cart holds: what a storefront asks for, what it gets back, what the sweep reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

CART_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
CART_ID_MAX = 120
# A cart of more lines, or of more units of one line, is not a shopping cart.
MAX_CART_LINES = 100
MAX_CART_LINE_QTY = 10_000

HoldStatus = Literal["active", "released", "expired", "converted"]


class CartLine(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=MAX_CART_LINE_QTY)
    # Defaults to the line's position ("1", "2", ...), which is what orders use.
    line_id: str | None = Field(default=None, min_length=1, max_length=64)


class CartDestination(BaseModel):
    """Where the cart would ship: a ZIP, a point, or a store for pickup. With one, the hold takes
    units from the node the order router would pick; without, from the nodes with most ATP."""

    zip: str | None = Field(default=None, min_length=3, max_length=10)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    state: str | None = Field(default=None, max_length=8)
    pickup_node: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _located(self) -> CartDestination:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("a destination point needs both lat and lon")
        if self.pickup_node is None and self.zip is None and self.lat is None:
            raise ValueError("a destination needs zip, lat/lon or pickup_node")
        return self


class HoldRequest(BaseModel):
    """POST /v1/carts/{cart_id}/hold. The same lines again refresh the hold; other lines
    replace it (the old units are given back and the new ones taken in one transaction)."""

    lines: list[CartLine] = Field(min_length=1, max_length=MAX_CART_LINES)
    destination: CartDestination | None = None
    # Default and maximum: the channel's cart_hold_minutes.
    minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    # Hold what there is instead of refusing (409) a cart that cannot be held in full.
    allow_partial: bool = False


class ExtendRequest(BaseModel):
    """POST /v1/carts/{cart_id}/hold/extend: the hold now ends `minutes` from now."""

    minutes: int | None = Field(default=None, ge=1, le=24 * 60)


class HeldLine(BaseModel):
    line_id: str
    sku: str
    qty: int
    node: str


class ShortLine(BaseModel):
    """Units of a line the hold could not take (only with allow_partial)."""

    line_id: str
    sku: str
    qty: int


class CartHold(BaseModel):
    cart_id: str
    channel: str
    status: HoldStatus
    expires_at: datetime
    order_id: str | None = None  # the order it became (status converted)
    destination: CartDestination | None = None
    lines: list[HeldLine] = Field(default_factory=list)
    short: list[ShortLine] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @property
    def units(self) -> int:
        return sum(ln.qty for ln in self.lines)


class SweepResult(BaseModel):
    """What one run of the sweep did."""

    expired_holds: int
    released_units: int
