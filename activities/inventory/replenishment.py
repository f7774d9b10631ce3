"""Replenishment suggestions from the movement ledger, per SKU x node.

Demand is what shipped: `consume` movements (a shipment leaving the node) and `unplanned-outbound`
(units a node shipped of a cancelled request), bucketed per day over the window; days without a
shipment count as zero demand. Then, with d = mean units/day and s = their standard deviation:

    days of cover  = available / d                (available = on hand - reserved - held)
    safety stock   = z * s * sqrt(lead days)      (z from the service level, NormalDist)
    reorder point  = d * lead days + safety stock
    order up to    = d * (lead days + cover days) + safety stock
    suggest        = order up to - (available + on order), when that position <= reorder point

`on order` is open inbound supply not yet received nor pre-sold to backorders.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema

DEMAND_KINDS = ("consume", "unplanned-outbound")
pos = schema.inventory_positions
mov = schema.movements
inbound = schema.inbound_supply


class ReplenishmentParams(BaseModel):
    window_days: int = Field(default=28, ge=2, le=365)
    lead_days: float = Field(default=7, gt=0, le=365)
    service_level: float = Field(default=0.95, ge=0.5, le=0.9999)
    cover_days: float = Field(default=14, ge=0, le=365)
    sku: str | None = Field(default=None, max_length=64)
    node: str | None = Field(default=None, max_length=64)


class Suggestion(BaseModel):
    node: str
    sku: str
    available: int
    on_order: int
    velocity: float  # units/day
    sigma_daily: float
    days_of_cover: float | None  # None: nothing sold in the window
    safety_stock: float
    reorder_point: float
    order_up_to: float
    reorder: bool
    suggested_qty: int


class ReplenishmentReport(BaseModel):
    as_of: datetime
    params: ReplenishmentParams
    z: float
    suggestions: list[Suggestion]


def z_for(service_level: float) -> float:
    return statistics.NormalDist().inv_cdf(service_level)


def suggest(
    node: str,
    sku: str,
    daily: list[int],
    available: int,
    on_order: int,
    p: ReplenishmentParams,
    z: float,
) -> Suggestion:
    velocity = statistics.fmean(daily)
    sigma = statistics.stdev(daily) if len(daily) > 1 else 0.0
    safety = z * sigma * math.sqrt(p.lead_days)
    reorder_point = velocity * p.lead_days + safety
    up_to = velocity * (p.lead_days + p.cover_days) + safety
    position = available + on_order
    reorder = velocity > 0 and position <= reorder_point
    return Suggestion(
        node=node,
        sku=sku,
        available=available,
        on_order=on_order,
        velocity=round(velocity, 4),
        sigma_daily=round(sigma, 4),
        days_of_cover=round(available / velocity, 2) if velocity > 0 else None,
        safety_stock=round(safety, 2),
        reorder_point=round(reorder_point, 2),
        order_up_to=round(up_to, 2),
        reorder=reorder,
        suggested_qty=max(0, math.ceil(up_to - position)) if reorder else 0,
    )


Q = sa.Select[Any]


def _only(query: Q, node: sa.Column[str], sku: sa.Column[str], p: ReplenishmentParams) -> Q:
    if p.node:
        query = query.where(node == p.node)
    if p.sku:
        query = query.where(sku == p.sku)
    return query


async def replenishment(
    engine: AsyncEngine, now: datetime, p: ReplenishmentParams
) -> ReplenishmentReport:
    start = now - timedelta(days=p.window_days)
    positions = sa.select(
        pos.c.node_id, pos.c.sku, (pos.c.on_hand - pos.c.reserved - pos.c.held).label("available")
    )
    shipped = sa.select(mov.c.node_id, mov.c.sku, mov.c.at, mov.c.on_hand_delta).where(
        mov.c.kind.in_(DEMAND_KINDS), mov.c.at >= start, mov.c.at < now
    )
    coming = (
        sa.select(
            inbound.c.node_id,
            inbound.c.sku,
            sa.func.sum(inbound.c.qty - inbound.c.received - inbound.c.allocated).label("qty"),
        )
        .where(inbound.c.status == "open")
        .group_by(inbound.c.node_id, inbound.c.sku)
    )
    positions = _only(positions, pos.c.node_id, pos.c.sku, p)
    shipped = _only(shipped, mov.c.node_id, mov.c.sku, p)
    coming = _only(coming, inbound.c.node_id, inbound.c.sku, p)
    daily: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * p.window_days)
    async with engine.connect() as conn:
        stock = {(r.node_id, r.sku): int(r.available) for r in await conn.execute(positions)}
        for r in await conn.execute(shipped):
            at = r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=now.tzinfo)
            day = min(int((at - start) / timedelta(days=1)), p.window_days - 1)
            daily[(r.node_id, r.sku)][day] += -int(r.on_hand_delta)
        on_order = {(r.node_id, r.sku): int(r.qty or 0) for r in await conn.execute(coming)}
    z = z_for(p.service_level)
    suggestions = [
        suggest(node, sku, daily[(node, sku)], available, on_order.get((node, sku), 0), p, z)
        for (node, sku), available in sorted(stock.items())
    ]
    suggestions.sort(key=lambda s: (not s.reorder, s.days_of_cover is None, s.days_of_cover or 0))
    return ReplenishmentReport(as_of=now, params=p, z=round(z, 4), suggestions=suggestions)
