"""Engine creation, migrations and network seeding for the DOM database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from activities.inventory import availability, node_settings, schema
from dom_workflows.network import Network

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> AsyncEngine:
    """An async engine tuned for concurrent activities.

    SQLite: WAL so readers never block the writer, a busy timeout so writers queue instead of
    failing with "database is locked", and BEGIN IMMEDIATE so a transaction takes the write lock
    up front -- a deferred transaction that reads first and writes later can be refused at once
    (SQLITE_BUSY_SNAPSHOT) without waiting on the busy timeout.
    """
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_size=pool_size
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # A reader's transaction is deferred: in WAL mode it neither waits for the writer
            # nor holds it up (BEGIN IMMEDIATE would queue every read behind every write).
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _upgrade(sync_conn: sa.Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def seed_network(engine: AsyncEngine, network: Network) -> int:
    """Load nodes, SKUs and starting inventory. Existing positions are left as they are, so
    re-seeding a running system never overwrites live stock. Returns positions created."""
    now = utcnow()
    created = 0
    async with engine.begin() as conn:
        existing_nodes = set((await conn.execute(sa.select(schema.nodes.c.id))).scalars())
        for n in network.nodes:
            values = {"name": n.name, "type": n.type, "state": n.state, "lat": n.lat, "lon": n.lon}
            if n.id in existing_nodes:
                await conn.execute(
                    schema.nodes.update().where(schema.nodes.c.id == n.id).values(**values)
                )
            else:
                await conn.execute(schema.nodes.insert().values(id=n.id, **values))
        existing_skus = set((await conn.execute(sa.select(schema.skus.c.sku))).scalars())
        for s in network.skus:
            values = {
                "name": s.name,
                "weight_lb": s.weight_lb,
                "price": s.price,
                "currency": network.currency,
                "tags": s.tags,
            }
            if s.sku in existing_skus:
                await conn.execute(
                    schema.skus.update().where(schema.skus.c.sku == s.sku).values(**values)
                )
            else:
                await conn.execute(schema.skus.insert().values(sku=s.sku, **values))
        created = await _seed_positions(conn, network, now)
        # Availability rows for new SKUs, at their ATP, so the change feed measures from it.
        await availability.seed(conn, [s.sku for s in network.skus])
        # Calendars and capacity, for nodes (and config holidays) not seeded before.
        await node_settings.seed(conn, network, now)
    return created


async def _seed_positions(conn: AsyncConnection, network: Network, now: datetime) -> int:
    pos = schema.inventory_positions
    existing = {
        (r.node_id, r.sku) for r in (await conn.execute(sa.select(pos.c.node_id, pos.c.sku)))
    }
    created = 0
    for seed in network.inventory:
        if (seed.node, seed.sku) in existing:
            continue
        await conn.execute(
            pos.insert().values(
                node_id=seed.node,
                sku=seed.sku,
                on_hand=seed.on_hand,
                reserved=0,
                safety_stock=seed.safety_stock,
                updated_at=now,
            )
        )
        await conn.execute(
            schema.movements.insert().values(
                at=now,
                node_id=seed.node,
                sku=seed.sku,
                kind="receipt",
                on_hand_delta=seed.on_hand,
                reference="network-seed",
                note="starting inventory from network config",
            )
        )
        created += 1
    return created
