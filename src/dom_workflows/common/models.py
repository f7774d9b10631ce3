"""Types several domains share: who the customer is, where things go, which units of which line."""

from __future__ import annotations

from pydantic import BaseModel


class Customer(BaseModel):
    id: str
    tier: str = "standard"
    email: str | None = None


class Address(BaseModel):
    name: str = ""
    line1: str = ""
    city: str = ""
    state: str | None = None
    zip: str | None = None
    country: str = "US"
    lat: float | None = None
    lon: float | None = None


class ShipmentLine(BaseModel):
    line_id: str
    sku: str
    qty: int
