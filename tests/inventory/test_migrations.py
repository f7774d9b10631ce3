"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.db import migrate


def _diff(sync_conn: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(context, schema.metadata))


async def test_migrations_match_the_declared_schema(ledger_engine: AsyncEngine) -> None:
    await migrate(ledger_engine)  # already at head: a second upgrade changes nothing
    async with ledger_engine.connect() as conn:
        diff = await conn.run_sync(_diff)
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
    assert diff == [], diff
    assert version is not None
