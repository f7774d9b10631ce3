"""API keys for tests: create one straight in the DOM database and send it on a client."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory.db import create_engine, migrate
from workers.api.apikeys import ALL_SCOPES, auth_headers, create_key


async def new_key(
    engine: AsyncEngine,
    scopes: Iterable[str] = ALL_SCOPES,
    channel: str | None = None,
    name: str = "test",
) -> str:
    """A fresh key (all scopes unless told) in `engine`'s database; its plaintext."""
    _, token = await create_key(engine, name, list(scopes), channel)
    return token


async def new_key_at(database_url: str, **kw: object) -> str:
    """`new_key` in the database at `database_url` (migrated first)."""
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        return await new_key(engine, **kw)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def authorize(http: httpx.AsyncClient, engine: AsyncEngine, **kw: object) -> str:
    """Give `http` a new all-scopes key (or as told); the key."""
    key = await new_key(engine, **kw)  # type: ignore[arg-type]
    http.headers.update(auth_headers(key))
    return key
