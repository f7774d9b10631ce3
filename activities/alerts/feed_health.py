"""Each node's inventory feed health, written as feeds arrive: the last good feed, the last
refused one and how many were refused in a row (the feed-failing and feed-silent alert rules
read it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema

feeds = schema.feed_status


def _upsert(dialect: str, values: dict[str, object], update: dict[str, object]) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(feeds).values(**values)
    return stmt.on_conflict_do_update(index_elements=[feeds.c.node_id], set_=update)


async def record_feed_ok(engine: AsyncEngine, node: str, at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            _upsert(
                conn.dialect.name,
                {"node_id": node, "last_ok_at": at, "consecutive_failures": 0, "updated_at": at},
                {"last_ok_at": at, "consecutive_failures": 0, "updated_at": at},
            )
        )


async def record_feed_failure(engine: AsyncEngine, node: str, error: str, at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            _upsert(
                conn.dialect.name,
                {
                    "node_id": node,
                    "last_failed_at": at,
                    "last_error": error[:500],
                    "consecutive_failures": 1,
                    "updated_at": at,
                },
                {
                    "last_failed_at": at,
                    "last_error": error[:500],
                    "consecutive_failures": feeds.c.consecutive_failures + 1,
                    "updated_at": at,
                },
            )
        )
