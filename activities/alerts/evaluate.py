"""One evaluation: every enabled rule's check, then the lifecycle plan applied to the `alerts`
table, each change in its own transaction with a conditional update (a concurrent evaluation --
a manual `dom alerts evaluate` next to the Schedule's run -- loses the race instead of opening
an alert twice or resolving one the other just refreshed). An open or resolve writes its webhook
delivery in the same transaction, so every transition is delivered and none twice."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.alerts import store
from activities.alerts.checks import CHECKS, Context
from activities.alerts.visibility import OrderVisibility
from activities.inventory import schema
from dom_workflows.alerts.lifecycle import plan
from dom_workflows.alerts.models import (
    Alert,
    AlertEvent,
    EvaluationResult,
    Finding,
    RuleError,
    Transition,
)

log = logging.getLogger("dom.alerts")
alerts_t = schema.alerts
deliveries = schema.alert_deliveries


async def evaluate(
    engine: AsyncEngine, visibility: OrderVisibility, now: datetime, *, deliver: bool
) -> EvaluationResult:
    """`deliver`: a webhook is configured, so transitions queue a delivery."""
    rules = [r for r in await store.load_rules(engine) if r.enabled]
    ctx = Context(engine, visibility, now)
    findings: list[Finding] = []
    errors: list[RuleError] = []
    severity: dict[str, str] = {r.id: r.severity for r in rules}
    for rule in rules:
        try:
            findings += await CHECKS[rule.kind](ctx, rule)
        except Exception as e:  # one broken rule must not silence the others
            log.warning("alert rule %s could not be evaluated: %s", rule.id, e)
            errors.append(RuleError(rule_id=rule.id, error=f"{type(e).__name__}: {e}"[:500]))
    async with engine.connect() as conn:
        current = await store.open_alerts(conn)
    todo = plan(
        current,
        findings,
        {r.id: r.clear_after for r in rules},
        {e.rule_id for e in errors},
    )
    result = EvaluationResult(evaluated_at=now, rules=len(rules), errors=errors)
    for finding in todo.open:
        if (opened := await _open(engine, finding, severity, now, deliver)) is not None:
            result.opened.append(opened)
    for alert, finding in todo.refresh:
        result.updated += await _refresh(engine, alert, finding, now)
    for alert, clean in todo.clearing:
        result.clearing += await _clearing(engine, alert, clean)
    for alert, why in todo.resolve:
        if (resolved := await _resolve(engine, alert, why, now, deliver)) is not None:
            result.resolved.append(resolved)
    async with engine.connect() as conn:
        result.open_alerts = await _count(conn, alerts_t, alerts_t.c.status == "open")
        result.pending_deliveries = await _count(conn, deliveries, deliveries.c.status == "pending")
    return result


async def _count(conn: AsyncConnection, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    return int(
        (
            await conn.execute(sa.select(sa.func.count()).select_from(table).where(where))
        ).scalar_one()
    )


async def _open(
    engine: AsyncEngine,
    f: Finding,
    severity: dict[str, str],
    now: datetime,
    deliver: bool,
) -> Transition | None:
    try:
        async with engine.begin() as conn:
            fields = dict(
                key=f.key,
                rule_id=f.rule_id,
                kind=f.kind,
                subject=f.subject,
                severity=severity.get(f.rule_id, "warning"),
                status="open",
                summary=f.summary[:500],
                evidence=f.evidence,
                opened_at=now,
                last_seen_at=now,
            )
            alert_id = (
                await conn.execute(
                    alerts_t.insert()
                    # open_key is unique while open: a second opener fails here
                    .values(**fields, open_key=f.key, clean_evaluations=0, version=1)
                    .returning(alerts_t.c.id)
                )
            ).scalar_one()
            alert = Alert(id=alert_id, **fields)
            if deliver:
                await _queue(conn, alert, "opened", now)
    except IntegrityError:
        return None  # another evaluation opened it a moment ago
    log.warning("alert opened: %s", f.summary)
    return Transition(alert_id=alert_id, key=f.key, event="opened", summary=f.summary[:500])


async def _refresh(engine: AsyncEngine, alert: Alert, f: Finding, now: datetime) -> int:
    async with engine.begin() as conn:
        done = await conn.execute(
            alerts_t.update()
            .where(
                alerts_t.c.id == alert.id,
                alerts_t.c.status == "open",
                alerts_t.c.version == alert.version,
            )
            .values(
                summary=f.summary[:500],
                evidence=f.evidence,
                last_seen_at=now,
                clean_evaluations=0,
                version=alert.version + 1,
            )
        )
    return done.rowcount


async def _clearing(engine: AsyncEngine, alert: Alert, clean: int) -> int:
    async with engine.begin() as conn:
        done = await conn.execute(
            alerts_t.update()
            .where(
                alerts_t.c.id == alert.id,
                alerts_t.c.status == "open",
                alerts_t.c.version == alert.version,
            )
            .values(clean_evaluations=clean, version=alert.version + 1)
        )
    return done.rowcount


async def _resolve(
    engine: AsyncEngine, alert: Alert, why: str, now: datetime, deliver: bool
) -> Transition | None:
    async with engine.begin() as conn:
        done = await conn.execute(
            alerts_t.update()
            .where(
                alerts_t.c.id == alert.id,
                alerts_t.c.status == "open",
                alerts_t.c.version == alert.version,
            )
            .values(
                status="resolved",
                open_key=None,
                resolved_at=now,
                resolution=why[:200],
                clean_evaluations=alert.clean_evaluations + 1,
                version=alert.version + 1,
            )
        )
        if done.rowcount != 1:
            return None
        if deliver:
            resolved = alert.model_copy(
                update={"status": "resolved", "resolved_at": now, "resolution": why[:200]}
            )
            await _queue(conn, resolved, "resolved", now)
    log.warning("alert resolved (%s): %s", why, alert.summary)
    return Transition(alert_id=alert.id, key=alert.key, event="resolved", summary=alert.summary)


def delivery_key(alert_id: int, event: AlertEvent) -> str:
    return f"dom-alert-{alert_id}-{event}"


async def _queue(conn: AsyncConnection, alert: Alert, event: AlertEvent, now: datetime) -> None:
    """The body is fixed here, so every retry sends the same bytes under the same key."""
    body = {
        "event": event,
        "idempotency_key": delivery_key(alert.id, event),
        "alert": alert.model_dump(mode="json"),
    }
    await conn.execute(
        deliveries.insert().values(
            alert_id=alert.id,
            event=event,
            idempotency_key=delivery_key(alert.id, event),
            body=json.dumps(body, separators=(",", ":"), sort_keys=True),
            status="pending",
            attempts=0,
            created_at=now,
        )
    )
