"""The shadow policies, as data: add (validated by the routing Policy model), remove, list, and
the active ones a routing attempt plans under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from dom_workflows.routing import Policy, load_policy

table = schema.shadow_policies
NAME_MAX = 64


class BadShadowPolicy(ValueError):
    """A name or policy document that cannot be stored (the message says why)."""


@dataclass(frozen=True, slots=True)
class ShadowPolicy:
    name: str
    policy: Policy
    active: bool
    updated_at: datetime


# Parsed policies by (name, document as stored): a routing attempt reads the rows every time
# (one query), but validates a document only when it changed.
_parsed: dict[tuple[str, str], Policy] = {}


def _policy(name: str, document: dict[str, Any]) -> Policy:
    key = (name, repr(document))
    if (p := _parsed.get(key)) is None:
        if len(_parsed) > 256:
            _parsed.clear()
        p = _parsed[key] = Policy.model_validate(document)
    return p


def validate(name: str, source: Any) -> Policy:
    """The policy `source` (path, YAML/JSON text or mapping) names, or BadShadowPolicy."""
    if not name or len(name) > NAME_MAX or not name.replace("-", "").replace("_", "").isalnum():
        raise BadShadowPolicy(
            f"shadow policy name {name!r}: 1-{NAME_MAX} letters, digits, '-' or '_'"
        )
    try:
        return load_policy(source)
    except ValueError as e:  # RoutingError
        raise BadShadowPolicy(str(e)) from None


async def add(engine: AsyncEngine, name: str, policy: Policy, now: datetime) -> bool:
    """Store (or replace) the named policy, active. True when it is new."""
    document = policy.model_dump(mode="json")
    async with engine.begin() as conn:
        found = await conn.execute(sa.select(table.c.name).where(table.c.name == name))
        if found.first() is None:
            await conn.execute(
                table.insert().values(
                    name=name, policy=document, active=True, created_at=now, updated_at=now
                )
            )
            return True
        await conn.execute(
            table.update()
            .where(table.c.name == name)
            .values(policy=document, active=True, updated_at=now)
        )
        return False


async def remove(engine: AsyncEngine, name: str) -> bool:
    """Delete the named policy (its recorded plans stay for the report). False if unknown."""
    async with engine.begin() as conn:
        result = await conn.execute(table.delete().where(table.c.name == name))
        return bool(result.rowcount)


async def set_active(engine: AsyncEngine, name: str, active: bool, now: datetime) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(
            table.update().where(table.c.name == name).values(active=active, updated_at=now)
        )
        return bool(result.rowcount)


async def listed(conn: AsyncConnection, *, only_active: bool = False) -> list[ShadowPolicy]:
    query = sa.select(table).order_by(table.c.name)
    if only_active:
        query = query.where(table.c.active == sa.true())
    rows = (await conn.execute(query)).mappings().all()
    return [
        ShadowPolicy(r["name"], _policy(r["name"], r["policy"]), r["active"], r["updated_at"])
        for r in rows
    ]
