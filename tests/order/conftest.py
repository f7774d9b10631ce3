"""A real worker (real activities, SQLite ledger) on the time-skipping test server. The harness
itself lives in tests/support/harness.py; the names are re-exported for older imports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from tests.support.harness import (
    HarnessFactory,
    OrderHarness,
    make_order,
    order_harness,
    replace_activity,
)

__all__ = [
    "HarnessFactory",
    "OrderHarness",
    "harness",
    "make_order",
    "order_harness",
    "replace_activity",
]


@pytest_asyncio.fixture
async def harness(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    async with order_harness(time_env, sqlite_engine, network, task_queue) as h:
        yield h
