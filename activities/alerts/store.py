"""Alert rules and alerts in the DOM database: read, seed, change, list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from activities.inventory.db import utcnow
from activities.inventory.ledger import claim_key
from dom_workflows.alerts.models import Alert, AlertStatus
from dom_workflows.alerts.rules import RULE, AlertRule, default_rules

rules_t = schema.alert_rules
SEEDED_KEY = "alert-rules:defaults-seeded"
alerts_t = schema.alerts


class UnknownRule(KeyError):
    pass


async def read_rules(conn: AsyncConnection) -> list[AlertRule]:
    rows = await conn.execute(sa.select(rules_t.c.spec).order_by(rules_t.c.id))
    return [RULE.validate_python(r.spec) for r in rows]


async def load_rules(engine: AsyncEngine) -> list[AlertRule]:
    """Every rule; the defaults are seeded the first time (once per database, ever: a default
    rule someone deleted stays deleted)."""
    await seed_defaults(engine)
    async with engine.connect() as conn:
        return await read_rules(conn)


async def seed_defaults(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        done = await conn.execute(
            sa.select(schema.applied_keys.c.key).where(schema.applied_keys.c.key == SEEDED_KEY)
        )
        if done.first() is not None:
            return
    try:
        async with engine.begin() as conn:
            if await claim_key(conn, SEEDED_KEY, "alert-rules"):
                await _insert_missing(conn, default_rules(), "defaults")
    except IntegrityError:
        pass  # a concurrent first evaluation seeded them


async def _insert_missing(conn: AsyncConnection, rules: list[AlertRule], by: str) -> int:
    now = utcnow()
    have = set((await conn.execute(sa.select(rules_t.c.id))).scalars())
    new = [r for r in rules if r.id not in have]
    for rule in new:
        await conn.execute(rules_t.insert().values(**_row(rule, now, by)))
    return len(new)


def _row(rule: AlertRule, now: datetime, by: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": rule.kind,
        "enabled": rule.enabled,
        "spec": rule.model_dump(mode="json"),
        "updated_at": now,
        "updated_by": by,
    }


async def seed_rules(engine: AsyncEngine, rules: list[AlertRule], by: str) -> int:
    """Insert the rules whose id is not there yet (existing ones stand); how many were new."""
    async with engine.begin() as conn:
        return await _insert_missing(conn, rules, by)


async def put_rule(engine: AsyncEngine, rule: AlertRule, by: str) -> bool:
    """Create or replace one rule; True if it was new. The next evaluation uses it."""
    await seed_defaults(engine)  # a first edit must not stop the defaults from being seeded
    now = utcnow()
    async with engine.begin() as conn:
        updated = await conn.execute(
            rules_t.update().where(rules_t.c.id == rule.id).values(**_row(rule, now, by))
        )
        if updated.rowcount == 1:
            return False
        await conn.execute(rules_t.insert().values(**_row(rule, now, by)))
        return True


async def get_rule(engine: AsyncEngine, rule_id: str) -> AlertRule:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(rules_t.c.spec).where(rules_t.c.id == rule_id))).first()
    if row is None:
        raise UnknownRule(rule_id)
    return RULE.validate_python(row.spec)


async def delete_rule(engine: AsyncEngine, rule_id: str) -> None:
    await seed_defaults(engine)
    async with engine.begin() as conn:
        gone = await conn.execute(rules_t.delete().where(rules_t.c.id == rule_id))
    if gone.rowcount != 1:
        raise UnknownRule(rule_id)


def aware(at: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def to_alert(row: Any) -> Alert:
    data = {k: aware(v) if isinstance(v, datetime) else v for k, v in row._asdict().items()}
    return Alert.model_validate(data)


ALERT_COLUMNS = [c for c in alerts_t.c if c.name != "open_key"]


async def open_alerts(conn: AsyncConnection) -> list[Alert]:
    rows = await conn.execute(
        sa.select(*ALERT_COLUMNS).where(alerts_t.c.status == "open").order_by(alerts_t.c.id)
    )
    return [to_alert(r) for r in rows]


async def list_alerts(
    engine: AsyncEngine, status: AlertStatus | None = None, limit: int = 100
) -> list[Alert]:
    """Newest first; resolved ones are the history."""
    query = sa.select(*ALERT_COLUMNS).order_by(alerts_t.c.opened_at.desc(), alerts_t.c.id.desc())
    if status is not None:
        query = query.where(alerts_t.c.status == status)
    async with engine.connect() as conn:
        return [to_alert(r) for r in await conn.execute(query.limit(limit))]
