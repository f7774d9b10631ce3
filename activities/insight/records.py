"""Write the decision and outcome records (shipment_outcomes, routing_decisions, order_finance).

Every write is idempotent, because activities are retried: rows are inserted at most once
(insert-or-ignore on the primary key), an outcome never moves a shipment backwards and never
rewrites a time already recorded, and the closing figures are set, not added.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.inventory import schema
from dom_workflows.insight.models import OrderClosing, ShipmentOutcome
from dom_workflows.inventory.models import ReserveAndRouteInput, ReserveAndRouteResult
from dom_workflows.routing import Plan

outcomes_t = schema.shipment_outcomes
decisions_t = schema.routing_decisions
finance_t = schema.order_finance

# A record only moves forward: a later report of an earlier state changes nothing.
RANK = {"requested": 0, "accepted": 1, "shipped": 2, "delivered": 3, "rejected": 4, "cancelled": 4}
TIMES = ("accepted_at", "rejected_at", "shipped_at", "delivered_at", "cancelled_at")
BASELINE = "distance"  # the strategy routing savings are measured against


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands DateTime columns back naive; every time the DOM stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def insert_ignore(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT that does nothing when the primary key exists (a retried activity)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"insight records need SQLite or PostgreSQL, not {conn.dialect.name}")


def _deadlines(
    requested_at: datetime, f: Any, promise_days: int | None
) -> tuple[datetime, datetime]:
    """(ship_by, deliver_by): the node's accept + ship SLA; the promise in days when the order
    has one, else the plan's transit days after ship_by (the node's delivery SLA without one)."""
    ship_by = requested_at + f.sla.accept_within + f.sla.ship_within
    if promise_days is not None:
        return ship_by, requested_at + timedelta(days=promise_days)
    if f.transit_days is not None:
        return ship_by, ship_by + timedelta(days=f.transit_days)
    return ship_by, ship_by + f.sla.deliver_within


async def record_decision(
    conn: AsyncConnection,
    inp: ReserveAndRouteInput,
    result: ReserveAndRouteResult,
    plan: Plan,
    currency: str,
    now: datetime,
    *,
    network_version: int | None = None,
    policy_version: str | None = None,
    scopes: list[str] | None = None,
) -> None:
    """The routing decision, its shipments as requested, and the order's money row (first
    decision only). Runs in the transaction that reserves the plan: all or nothing with it.
    `network_version`, `policy_version`, `scopes`: what the versioned network gave the order."""
    order, at = inp.order, inp.requested_at or now
    baseline = next((a for a in plan.explanation.alternatives if a.strategy == BASELINE), None)
    breakdown = plan.cost_breakdown
    await conn.execute(
        insert_ignore(conn, decisions_t).values(
            order_id=order.order_id,
            route_attempt=inp.attempt,
            channel=order.channel,
            currency=currency,
            strategy=plan.strategy,
            shipments=len(plan.shipments),
            units=sum(s.units for s in plan.shipments),
            backordered_units=plan.backordered_units,
            nodes=[s.node for s in plan.shipments],
            total_cost=Decimal(plan.total_cost),
            shipping_cost=Decimal(breakdown.shipping),
            handling_cost=Decimal(breakdown.handling),
            split_penalty=Decimal(breakdown.split_penalty),
            backorder_penalty=Decimal(breakdown.backorder_penalty),
            rule_adjustments=Decimal(breakdown.rule_adjustments),
            baseline_cost=Decimal(baseline.total_cost) if baseline is not None else None,
            alternatives=[
                {
                    "strategy": a.strategy,
                    "total_cost": str(a.total_cost),
                    "shipments": a.shipments_count,
                    "nodes": a.nodes,
                    "backordered_units": a.backordered_units,
                }
                for a in plan.explanation.alternatives
            ],
            created_at=at,
            network_version=network_version,
            policy_version=policy_version,
            scopes=scopes,
        )
    )
    for f in result.fulfillments:
        ship_by, deliver_by = _deadlines(at, f, order.promise_days)
        skus: dict[str, int] = {}
        for ln in f.lines:
            skus[ln.sku] = skus.get(ln.sku, 0) + ln.qty
        await conn.execute(
            insert_ignore(conn, outcomes_t).values(
                shipment_id=f.shipment_id,
                order_id=order.order_id,
                route_attempt=inp.attempt,
                node=f.node,
                node_type=f.node_type,
                channel=order.channel,
                service=f.service,
                status="requested",
                units=sum(skus.values()),
                skus=skus,
                shipping_cost=f.shipping_cost,
                handling_cost=f.handling_cost,
                currency=currency,
                requested_at=at,
                ship_by=ship_by,
                deliver_by=deliver_by,
                updated_at=now,
            )
        )
    skus = {}
    for sl in inp.lines:
        skus[sl.sku] = skus.get(sl.sku, 0) + sl.qty
    await conn.execute(
        insert_ignore(conn, finance_t).values(
            order_id=order.order_id,
            channel=order.channel,
            currency=currency,
            revenue=inp.destination.order_value.amount,
            units=sum(skus.values()),
            skus=skus,
            status="open",
            received_at=at,
            updated_at=now,
        )
    )


async def apply_outcome(conn: AsyncConnection, outcome: ShipmentOutcome, now: datetime) -> bool:
    """Move one shipment's record forward; False when there is none (a shipment routed before
    the records existed) or nothing changed. Times already recorded are kept."""
    query = sa.select(outcomes_t).where(outcomes_t.c.shipment_id == outcome.shipment_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        return False
    values: dict[str, Any] = {}
    if RANK[outcome.status] > RANK[row["status"]]:
        values["status"] = outcome.status
        if outcome.reason and outcome.status in ("rejected", "cancelled"):
            values["reject_reason"] = outcome.reason[:200]
    for name in TIMES:
        if row[name] is None and getattr(outcome, name) is not None:
            values[name] = getattr(outcome, name)
    shipped_at = aware(values.get("shipped_at") or row["shipped_at"])
    ship_by = aware(row["ship_by"])
    late = shipped_at is not None and ship_by is not None and shipped_at > ship_by
    if not row["breached"] and (outcome.breached or late):
        values["breached"] = True
    if not values:
        return False
    await conn.execute(
        outcomes_t.update()
        .where(outcomes_t.c.shipment_id == outcome.shipment_id)
        .values(updated_at=now, **values)
    )
    return True


async def close_order(
    conn: AsyncConnection, order_id: str, closing: OrderClosing, now: datetime
) -> None:
    """The order's final money and status, and every shipment's last outcome."""
    for outcome in closing.shipments:
        await apply_outcome(conn, outcome, now)
    await conn.execute(
        finance_t.update()
        .where(finance_t.c.order_id == order_id)
        .values(
            status=closing.status,
            closed_at=closing.closed_at,
            cancelled_units=closing.cancelled_units,
            cancelled_value=closing.cancelled_value,
            refunds=closing.refunds,
            updated_at=now,
        )
    )
