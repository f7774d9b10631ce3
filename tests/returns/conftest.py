"""Returns on the time-skipping server: a real worker with the simulator as payment provider and
carrier (the Returns driver lives in tests/support/returns.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from tests.support.harness import order_harness
from tests.support.returns import Returns, partner_settings
from tests.support.sim import LiveSim
from workers.client import DomClient


@pytest_asyncio.fixture
async def returns(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> AsyncIterator[Returns]:
    async with order_harness(
        time_env, sqlite_engine, network, task_queue, partner_settings(live_sim)
    ) as h:
        yield Returns(h, DomClient(h.client, task_queue), sqlite_engine)


@pytest_asyncio.fixture
async def returns_without_partners(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Returns]:
    async with order_harness(time_env, sqlite_engine, network, task_queue) as h:
        yield Returns(h, DomClient(h.client, task_queue), sqlite_engine)
