"""One-shot keys with a remembered answer (the ledger's `applied_keys` table).

The API uses them for what Temporal's workflow-id idempotency does not cover: which order a
channel's external id became, which partner events and Shopify webhooks were already handled.
They live in the DOM database, so they survive restarts and completed workflows.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.db import utcnow

keys = schema.applied_keys
MAX_KEY = 300  # the column's length


def make_key(*parts: str) -> str:
    """Join parts; an over-long key is shortened to a hash so it still fits and stays unique."""
    key = ":".join(parts)
    if len(key) <= MAX_KEY:
        return key
    return f"{parts[0]}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def lookup(engine: AsyncEngine, key: str) -> dict[str, Any] | None:
    """The answer remembered under `key`, {} if claimed without one, None if never claimed."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(keys.c.result).where(keys.c.key == key))).first()
    if row is None:
        return None
    return dict(row.result or {})


async def remember(engine: AsyncEngine, key: str, kind: str, result: dict[str, Any]) -> bool:
    """Claim `key` with `result`; False if someone claimed it first (their answer stands)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(
                keys.insert().values(key=key, kind=kind[:32], result=result, created_at=utcnow())
            )
        return True
    except IntegrityError:
        return False


async def settle(engine: AsyncEngine, key: str, result: dict[str, Any] | None) -> None:
    """Give a claimed key its answer, or (None) release it so the request can be tried again."""
    async with engine.begin() as conn:
        if result is None:
            await conn.execute(keys.delete().where(keys.c.key == key))
        else:
            await conn.execute(keys.update().where(keys.c.key == key).values(result=result))
