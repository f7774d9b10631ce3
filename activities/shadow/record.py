"""Record one routing attempt for shadow planning and what-if, in the live decision's transaction.

Every live attempt stores its input snapshot (what `dom whatif` replays) and, per active shadow
policy, the shadow plan's outcome next to the live one: planned first (plan_attempt, before the
transaction), written with the decision (record_attempt). Nothing here touches the ledger: the
shadow plans are computed from the scenario the live plan was made on. Rows are insert-or-ignore
on (order, attempt[, policy]), so a retried activity adds nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.insight.records import insert_ignore
from activities.inventory import schema
from activities.shadow import policies
from activities.shadow.compare import Outcome, outcome, plan_under
from activities.shadow.snapshot import snapshot_of
from dom_workflows.routing import Plan, Scenario
from dom_workflows.routing.models import Node


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    """One attempt's input and live outcome, and each active shadow policy's plan of it."""

    snapshot: dict[str, Any]
    live: Outcome
    shadows: list[tuple[str, Outcome | str]]


async def plan_attempt(
    conn: AsyncConnection, scenario: Scenario, plan: Plan, static_nodes: list[Node]
) -> PlannedAttempt:
    """Plan `scenario` under each active shadow policy. Called on the live plan's connection,
    before the writing transaction opens, so the solves never lengthen it (nor hold SQLite's
    write lock)."""
    active = await policies.listed(conn, only_active=True)
    return PlannedAttempt(
        snapshot=snapshot_of(scenario, static_nodes),
        live=outcome(plan, scenario.order.promise_days),
        shadows=[(sp.name, plan_under(scenario, sp.policy)) for sp in active],
    )


async def record_attempt(
    conn: AsyncConnection,
    *,
    order_id: str,
    attempt: int,
    planned: PlannedAttempt,
    currency: str,
    now: datetime,
) -> int:
    """Store the attempt's input and its shadow plans, in the live decision's transaction;
    returns how many shadow plans."""
    live = planned.live
    await conn.execute(
        insert_ignore(conn, schema.routing_inputs).values(
            order_id=order_id,
            route_attempt=attempt,
            snapshot=planned.snapshot,
            currency=currency,
            live_cost=live.cost,
            live_spend=live.spend,
            live_shipments=live.shipments,
            live_backordered_units=live.backordered_units,
            live_promise_met=live.promise_met,
            live_nodes=list(live.nodes),
            created_at=now,
        )
    )
    for name, shadow in planned.shadows:
        await conn.execute(
            insert_ignore(conn, schema.shadow_plans).values(
                order_id=order_id,
                route_attempt=attempt,
                policy=name,
                currency=currency,
                created_at=now,
                **row_values(live, shadow),
            )
        )
    return len(planned.shadows)


def row_values(live: Outcome, shadow: Outcome | str) -> dict[str, object]:
    """The live and shadow columns of a shadow_plans row."""
    values: dict[str, object] = {
        "live_cost": live.cost,
        "live_spend": live.spend,
        "live_shipments": live.shipments,
        "live_backordered_units": live.backordered_units,
        "live_promise_met": live.promise_met,
        "live_nodes": list(live.nodes),
    }
    if isinstance(shadow, str):
        return {**values, "shadow_error": shadow}
    return {
        **values,
        "shadow_cost": shadow.cost,
        "shadow_spend": shadow.spend,
        "shadow_shipments": shadow.shipments,
        "shadow_backordered_units": shadow.backordered_units,
        "shadow_promise_met": shadow.promise_met,
        "shadow_nodes": list(shadow.nodes),
    }
