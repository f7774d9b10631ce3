"""One check per rule kind: the rule's condition, read from the DOM database or Temporal
visibility at `now`, as findings (one per subject the condition holds for)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.alerts.store import aware
from activities.alerts.visibility import OrderVisibility
from activities.inventory import schema
from dom_workflows.alerts.models import Finding
from dom_workflows.alerts.rules import (
    AlertRule,
    FeedFailing,
    FeedSilent,
    FulfilmentOverdue,
    LowStock,
    NodeRejectionRate,
    NoOrders,
    OrderNotRouted,
)

# Written by the KPI feature (migration 0006); named here, not imported, so alerts depend only on
# the columns they read.
outcomes = sa.table(
    "shipment_outcomes",
    sa.column("shipment_id", sa.String),
    sa.column("order_id", sa.String),
    sa.column("node", sa.String),
    sa.column("status", sa.String),
    sa.column("accepted_at", sa.DateTime(timezone=True)),
    sa.column("rejected_at", sa.DateTime(timezone=True)),
    sa.column("ship_by", sa.DateTime(timezone=True)),
)
# Evidence lists at most this many items (the count is always complete).
EVIDENCE_ITEMS = 10


class Context:
    def __init__(self, engine: AsyncEngine, visibility: OrderVisibility, now: datetime) -> None:
        self.engine = engine
        self.visibility = visibility
        self.now = now


def _finding(rule: AlertRule, subject: str, summary: str, **evidence: Any) -> Finding:
    return Finding(
        rule_id=rule.id, kind=rule.kind, subject=subject, summary=summary, evidence=evidence
    )


async def order_not_routed(ctx: Context, rule: OrderNotRouted) -> list[Finding]:
    stuck = await ctx.visibility.unrouted(ctx.now - timedelta(minutes=rule.minutes))
    if not stuck:
        return []
    oldest = min(s.started_at for s in stuck)
    waited = int((ctx.now - oldest).total_seconds() // 60)
    return [
        _finding(
            rule,
            "orders",
            f"{len(stuck)} order(s) not routed after {rule.minutes} min (oldest waiting "
            f"{waited} min)",
            orders=[s.workflow_id for s in stuck[:EVIDENCE_ITEMS]],
            count=len(stuck),
            oldest_started_at=oldest.isoformat(),
        )
    ]


async def no_orders(ctx: Context, rule: NoOrders) -> list[Finding]:
    opened = rule.business_hours.opened_at(ctx.now)
    since = ctx.now - timedelta(minutes=rule.minutes)
    if opened is None or opened > since:
        return []  # closed, or not open long enough today to call the quiet unusual
    if await ctx.visibility.started_since(since) > 0:
        return []
    return [
        _finding(
            rule,
            "orders",
            f"no orders in the last {rule.minutes} min of business hours "
            f"({rule.business_hours.timezone})",
            since=since.isoformat(),
        )
    ]


async def fulfilment_overdue(ctx: Context, rule: FulfilmentOverdue) -> list[Finding]:
    late = ctx.now - timedelta(minutes=rule.grace_minutes)
    query = (
        sa.select(outcomes.c.node, outcomes.c.shipment_id, outcomes.c.ship_by)
        .where(outcomes.c.status.in_(("requested", "accepted")), outcomes.c.ship_by < late)
        .order_by(outcomes.c.node, outcomes.c.ship_by)
    )
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    by_node: dict[str, list[Any]] = {}
    for r in rows:
        by_node.setdefault(r.node, []).append(r)
    findings = []
    for node, items in by_node.items():
        oldest = aware(items[0].ship_by)
        findings.append(
            _finding(
                rule,
                node,
                f"{node}: {len(items)} fulfilment request(s) not shipped past their ship-by "
                f"(oldest due {oldest:%Y-%m-%d %H:%M} UTC)",
                count=len(items),
                shipments=[i.shipment_id for i in items[:EVIDENCE_ITEMS]],
                oldest_ship_by=oldest.isoformat(),
            )
        )
    return findings


async def node_rejection_rate(ctx: Context, rule: NodeRejectionRate) -> list[Finding]:
    since = ctx.now - timedelta(minutes=rule.window_minutes)
    accepted = sa.and_(outcomes.c.accepted_at >= since, outcomes.c.accepted_at <= ctx.now)
    rejected = sa.and_(outcomes.c.rejected_at >= since, outcomes.c.rejected_at <= ctx.now)
    query = (
        sa.select(
            outcomes.c.node,
            sa.func.count().label("answered"),
            sa.func.sum(sa.case((rejected, 1), else_=0)).label("rejected"),
        )
        .where(sa.or_(accepted, rejected))
        .group_by(outcomes.c.node)
    )
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    findings = []
    for r in rows:
        answered, rejections = int(r.answered), int(r.rejected or 0)
        if answered < rule.min_requests:
            continue
        rate = rejections / answered
        if rate > rule.threshold:
            findings.append(
                _finding(
                    rule,
                    r.node,
                    f"{r.node} rejected {rejections} of {answered} requests "
                    f"({rate:.0%}) in the last {rule.window_minutes} min "
                    f"(threshold {rule.threshold:.0%})",
                    answered=answered,
                    rejected=rejections,
                    rate=round(rate, 4),
                )
            )
    return findings


feeds = schema.feed_status


async def feed_failing(ctx: Context, rule: FeedFailing) -> list[Finding]:
    query = sa.select(feeds).where(feeds.c.consecutive_failures >= rule.failures)
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(query.order_by(feeds.c.node_id))).all()
    return [
        _finding(
            rule,
            r.node_id,
            f"{r.node_id}: inventory feed refused {r.consecutive_failures} time(s) in a row: "
            f"{r.last_error}"[:500],
            consecutive_failures=r.consecutive_failures,
            last_error=r.last_error,
            last_failed_at=aware(r.last_failed_at).isoformat() if r.last_failed_at else None,
        )
        for r in rows
    ]


async def feed_silent(ctx: Context, rule: FeedSilent) -> list[Finding]:
    async with ctx.engine.connect() as conn:
        rows = {r.node_id: r for r in await conn.execute(sa.select(feeds))}
    cutoff = ctx.now - timedelta(minutes=rule.minutes)
    findings = []
    for node in rule.nodes or sorted(rows):
        row = rows.get(node)
        last_ok = aware(row.last_ok_at) if row is not None and row.last_ok_at else None
        if last_ok is not None and last_ok >= cutoff:
            continue
        since = f"since {last_ok:%Y-%m-%d %H:%M} UTC" if last_ok else "ever"
        findings.append(
            _finding(
                rule,
                node,
                f"{node}: no inventory feed applied {since} (expected within {rule.minutes} min)",
                last_ok_at=last_ok.isoformat() if last_ok else None,
            )
        )
    return findings


pos = schema.inventory_positions
nodes = schema.nodes


async def low_stock(ctx: Context, rule: LowStock) -> list[Finding]:
    available = (pos.c.on_hand - pos.c.reserved - pos.c.held).label("available")
    query = (
        sa.select(pos.c.node_id, pos.c.sku, available)
        .join(nodes, nodes.c.id == pos.c.node_id)
        .where(available < rule.threshold)
        .order_by(pos.c.node_id, pos.c.sku)
    )
    if rule.node_types:
        query = query.where(nodes.c.type.in_(rule.node_types))
    if rule.nodes:
        query = query.where(pos.c.node_id.in_(rule.nodes))
    if rule.skus:
        query = query.where(pos.c.sku.in_(rule.skus))
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        _finding(
            rule,
            f"{r.node_id}/{r.sku}",
            f"{r.sku} at {r.node_id}: {r.available} available (below {rule.threshold})",
            node=r.node_id,
            sku=r.sku,
            available=int(r.available),
            threshold=rule.threshold,
        )
        for r in rows
    ]


Check = Callable[[Context, Any], Awaitable[list[Finding]]]
CHECKS: dict[str, Check] = {
    "order-not-routed": order_not_routed,
    "no-orders": no_orders,
    "fulfilment-overdue": fulfilment_overdue,
    "node-rejection-rate": node_rejection_rate,
    "feed-failing": feed_failing,
    "feed-silent": feed_silent,
    "low-stock": low_stock,
}
