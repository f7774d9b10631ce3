"""Alert test helpers: a scripted Temporal visibility, faults injected straight into the DOM
database, and an evaluator stepped through time with an injected `now`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.alerts import store
from activities.alerts.evaluate import evaluate
from activities.alerts.visibility import StuckOrder
from activities.inventory import schema
from dom_workflows.alerts.models import Alert, EvaluationResult
from dom_workflows.alerts.rules import AlertRule

# A Wednesday, 15:00 in New York: inside the default business hours.
T0 = datetime(2025, 3, 12, 19, 0, tzinfo=UTC)
EVERY = timedelta(seconds=60)


@dataclass
class ScriptedVisibility:
    """Orders as Temporal visibility would list them: (workflow id, start, routed yet)."""

    orders: dict[str, tuple[datetime, bool]] = field(default_factory=dict)

    def start(self, order_id: str, at: datetime, routed: bool = True) -> None:
        self.orders[order_id] = (at, routed)

    def route(self, order_id: str) -> None:
        self.orders[order_id] = (self.orders[order_id][0], True)

    async def unrouted(self, started_before: datetime) -> list[StuckOrder]:
        return [
            StuckOrder(workflow_id=f"order-{oid}", started_at=at)
            for oid, (at, routed) in sorted(self.orders.items())
            if not routed and at < started_before
        ]

    async def started_since(self, since: datetime) -> int:
        return sum(1 for at, _ in self.orders.values() if at >= since)


async def only_rules(engine: AsyncEngine, *rules: AlertRule) -> None:
    """Replace every rule (the defaults included) with these."""
    await store.seed_defaults(engine)  # first, so they are not seeded over these later
    async with engine.begin() as conn:
        await conn.execute(schema.alert_rules.delete())
    await store.seed_rules(engine, list(rules), by="test")


async def run(
    engine: AsyncEngine, vis: ScriptedVisibility, now: datetime, deliver: bool = False
) -> EvaluationResult:
    return await evaluate(engine, vis, now, deliver=deliver)


async def open_alerts(engine: AsyncEngine) -> list[Alert]:
    return await store.list_alerts(engine, "open")


async def evaluations_until_open(
    engine: AsyncEngine, vis: ScriptedVisibility, start: datetime, key: str, limit: int = 5
) -> int:
    """Evaluate every EVERY from `start` (the first tick at or after the fault); return how many
    evaluations it took for the alert `key` to open (1 = the first one)."""
    for i in range(1, limit + 1):
        result = await run(engine, vis, start + EVERY * (i - 1))
        if any(t.key == key for t in result.opened):
            return i
    raise AssertionError(f"{key} did not open within {limit} evaluations")


async def add_outcome(
    engine: AsyncEngine,
    shipment_id: str,
    node: str,
    status: str,
    *,
    requested_at: datetime,
    accepted_at: datetime | None = None,
    rejected_at: datetime | None = None,
    ship_by: datetime | None = None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            schema.shipment_outcomes.insert().values(
                shipment_id=shipment_id,
                order_id=shipment_id.split(":")[0],
                route_attempt=1,
                node=node,
                channel="web",
                status=status,
                skus={"BOOT-HIKE-9": 1},
                requested_at=requested_at,
                accepted_at=accepted_at,
                rejected_at=rejected_at,
                ship_by=ship_by,
                updated_at=requested_at,
            )
        )


async def set_available(engine: AsyncEngine, node: str, sku: str, available: int) -> None:
    """on_hand so that on_hand - reserved - held == available (a stock count came in low)."""
    pos = schema.inventory_positions
    async with engine.begin() as conn:
        await conn.execute(
            pos.update()
            .where(pos.c.node_id == node, pos.c.sku == sku)
            .values(on_hand=pos.c.reserved + pos.c.held + available)
        )


async def ship_by_status(engine: AsyncEngine, shipment_id: str, status: str) -> None:
    out = schema.shipment_outcomes
    async with engine.begin() as conn:
        await conn.execute(
            out.update().where(out.c.shipment_id == shipment_id).values(status=status)
        )


async def rows(engine: AsyncEngine, table: sa.Table) -> list[sa.Row[object]]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(table))).all())
