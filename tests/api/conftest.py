"""The API over httpx's ASGI transport, against a real Temporal (time-skipping server, so SLA
timers never fire on their own), a real worker and a real SQLite ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.config import Settings
from dom_workflows.network import Network
from tests.support.api import SECRETS, Api, api_on
from tests.support.auth import authorize
from workers.api.app import ApiDeps, create_app
from workers.client import DomClient
from workers.worker import build_worker, dependencies


@pytest_asyncio.fixture
async def api(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Api]:
    async with dependencies(Settings(), engine=sqlite_engine, network=network) as wdeps:
        async with build_worker(time_env.client, task_queue, wdeps):
            deps = ApiDeps(
                dom=DomClient(time_env.client, task_queue),
                engine=sqlite_engine,
                network=network,
                secrets=SECRETS,
            )
            app = create_app(deps)
            # raise_app_exceptions: a bug behind the catch-all handler fails the test loudly.
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://dom.test") as http:
                await authorize(http, sqlite_engine)  # every scope, no channel
                yield Api(http, deps, sqlite_engine, SECRETS)
            assert app.state.unexpected_errors == 0, "a request reached the catch-all 500 handler"


@pytest_asyncio.fixture
async def dev_api(
    dev_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Api]:
    """The API on the real dev server, whose visibility lists workflows (GET /v1/orders); the
    time-skipping server cannot. Other tests' workflows share the server: filter by your own."""
    async with api_on(dev_env, sqlite_engine, network, task_queue) as api:
        yield api
