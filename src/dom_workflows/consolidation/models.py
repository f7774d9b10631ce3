"""Messages of consolidation: orders of one customer to one address, shipping from one node
within the window, leave together as one parcel."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field


def consolidation_workflow_id(customer_id: str) -> str:
    return f"consolidate-{customer_id}"


def address_key(zip_code: str | None, line1: str, lat: float | None, lon: float | None) -> str:
    """Same street address, same key; spelling noise (case, spaces) does not split a group."""
    street = " ".join(line1.lower().replace(",", " ").split())
    where = (zip_code or "")[:5] or f"{lat:.4f},{lon:.4f}"
    return f"{where}|{street}"


class JoinConsolidation(BaseModel):
    customer_id: str
    address_key: str
    node: str
    order_workflow_id: str
    shipment_id: str
    window: timedelta


class Member(BaseModel):
    order_workflow_id: str
    shipment_id: str


class Group(BaseModel):
    group_id: str
    address_key: str
    node: str
    closes_at: datetime
    members: list[Member] = Field(default_factory=list)


class ConsolidationState(BaseModel):
    """Everything the per-customer workflow carries across continue-as-new."""

    customer_id: str
    open_groups: list[Group] = Field(default_factory=list)
    pending: list[JoinConsolidation] = Field(default_factory=list)
    groups_closed: int = 0
    # Continue-as-new after closing this many groups, so a busy customer's history stays bounded.
    groups_per_run: int = Field(default=200, ge=1)


class Consolidated(BaseModel):
    """Sent to each member order when its group's window closes."""

    group_id: str
    shipment_id: str
    shipments: list[str]
