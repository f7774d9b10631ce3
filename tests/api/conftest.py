"""The API over httpx's ASGI transport, against a real Temporal (time-skipping server, so SLA
timers never fire on their own), a real worker and a real SQLite ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from tests.support.api import Api, api_on


@pytest_asyncio.fixture
async def api(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Api]:
    async with api_on(time_env, sqlite_engine, network, task_queue) as api:
        yield api


@pytest_asyncio.fixture
async def dev_api(
    dev_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Api]:
    """The API on the real dev server, whose visibility lists workflows (GET /v1/orders); the
    time-skipping server cannot. Other tests' workflows share the server: filter by your own."""
    async with api_on(dev_env, sqlite_engine, network, task_queue) as api:
        yield api
