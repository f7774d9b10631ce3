"""Fixtures: the reconciliation stack (tests/support/reconcile.py) on SQLite, or on each ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from tests.support.reconcile import Stack, running_stack


@pytest_asyncio.fixture
async def stack(
    dev_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """On SQLite: for what does not involve the ledger."""
    async with running_stack(dev_env, sqlite_engine, network, task_queue, tmp_path) as s:
        yield s


@pytest_asyncio.fixture
async def ledger_stack(
    dev_env: WorkflowEnvironment,
    ledger_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """Once on SQLite, once on PostgreSQL."""
    async with running_stack(dev_env, ledger_engine, network, task_queue, tmp_path) as s:
        yield s
