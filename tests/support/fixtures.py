"""Fixtures shared by several test directories, loaded as a plugin by tests/conftest.py
(`pytest_plugins`): the order harness on the time-skipping server and a live simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from tests.support.harness import OrderHarness, order_harness
from tests.support.servers import free_port
from tests.support.sim import LiveSim
from workers.simulator.app import Simulator, serve
from workers.simulator.config import SimConfig


@pytest_asyncio.fixture
async def harness(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    """A real worker (real activities, SQLite ledger) on the time-skipping test server."""
    async with order_harness(time_env, sqlite_engine, network, task_queue) as h:
        yield h


@pytest_asyncio.fixture
async def live_sim() -> AsyncIterator[LiveSim]:
    # Events would go to a DOM API that is not there; nobody accepts within a test anyway.
    config = SimConfig(api_url="http://127.0.0.1:9", accept_delay=600, seed=3, slow_seconds=1.0)
    sim = Simulator(config)
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(sim, port, stop))
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
        for _ in range(100):
            try:
                if (await http.get(f"{url}/_health")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        yield LiveSim(sim, url, http)
    stop.set()
    await task
