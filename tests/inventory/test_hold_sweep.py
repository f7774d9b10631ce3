"""Expiry by the `cart-hold-sweep` Temporal Schedule on the real dev server: an expired hold is
released (ATP back) within seconds of its expiry, a run started while no worker polls sweeps as
soon as one does, and creating the schedule again is harmless (it follows the interval)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import ScheduleActionStartWorkflow, ScheduleHandle
from temporalio.testing import WorkflowEnvironment

from activities.inventory import holds, ledger
from dom_workflows.carts.models import CartLine
from dom_workflows.config import Settings
from dom_workflows.network import Network
from tests.support.holds import CONTESTED, add_sku
from tests.support.until import until
from workers.hold_sweep import (
    NOTE,
    SWEEP_SECONDS_ENV,
    ensure_hold_sweep,
    schedule_id,
    sweep_interval,
)
from workers.worker import build_worker, dependencies

pytestmark = pytest.mark.devserver
FAST = timedelta(seconds=1)


def now() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def sweep_schedule(
    env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[ScheduleHandle]:
    assert await ensure_hold_sweep(env.client, task_queue, FAST) == "created"
    handle = env.client.get_schedule_handle(schedule_id(task_queue))
    try:
        yield handle
    finally:
        await handle.delete()


@contextlib.asynccontextmanager
async def worker(
    env: WorkflowEnvironment, engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[None]:
    async with dependencies(Settings(), engine=engine, network=network) as deps:
        async with build_worker(env.client, task_queue, deps):
            yield


async def status(engine: AsyncEngine, cart_id: str) -> str:
    hold = await holds.get_hold(engine, cart_id)
    assert hold is not None
    return hold.status


async def test_the_sweep_releases_an_expired_hold_within_seconds(
    dev_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    await add_sku(sqlite_engine)
    line = [CartLine(sku=CONTESTED, qty=5)]
    # One-minute holds made 57 s ago: they expire 3 s from now.
    soon, _ = await holds.place_hold(
        sqlite_engine, "soon", "web", line, None, 1, now() - timedelta(seconds=57)
    )
    await holds.place_hold(sqlite_engine, "later", "web", line, None, 15, now())
    assert (await ledger.atp_view(sqlite_engine, CONTESTED)).total_atp == 40
    async with worker(dev_env, sqlite_engine, network, task_queue):
        async with sweep_schedule(dev_env, task_queue):
            await until(
                lambda: status(sqlite_engine, "soon"),
                lambda s: s == "expired",
                "the sweep to expire the hold",
                within=30,
                interval=0.1,
            )
            lag = (now() - soon.expires_at).total_seconds()
            print(f"\nexpired hold released {lag:.1f} s after its expiry (sweep every 1 s)")
    assert await status(sqlite_engine, "later") == "active"
    view = await ledger.atp_view(sqlite_engine, CONTESTED)
    assert (view.total_atp, view.total_held) == (45, 5)


async def test_a_sweep_due_while_no_worker_polls_runs_when_one_starts(
    dev_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    await add_sku(sqlite_engine)
    line = [CartLine(sku=CONTESTED, qty=3)]
    await holds.place_hold(sqlite_engine, "stale", "web", line, None, 1, now() - timedelta(hours=1))
    async with sweep_schedule(dev_env, task_queue) as handle:
        # The schedule fires; its run waits on the task queue (workers down, e.g. a deploy).
        await until(
            lambda: handle.describe(),
            lambda d: d.info.num_actions >= 1,
            "the schedule to start a sweep",
            within=15,
        )
        await asyncio.sleep(1.5)
        assert await status(sqlite_engine, "stale") == "active"
        started = time.monotonic()
        async with worker(dev_env, sqlite_engine, network, task_queue):
            await until(
                lambda: status(sqlite_engine, "stale"),
                lambda s: s == "expired",
                "the pending sweep to run on the new worker",
                within=30,
                interval=0.1,
            )
        print(f"\nswept {time.monotonic() - started:.1f} s after a worker started")
    assert (await ledger.atp_view(sqlite_engine, CONTESTED)).total_atp == 50


async def test_creating_the_schedule_again_is_harmless_and_follows_the_interval(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_env.client
    handle = client.get_schedule_handle(schedule_id(task_queue))
    try:
        assert await ensure_hold_sweep(client, task_queue, timedelta(seconds=15)) == "created"
        assert await ensure_hold_sweep(client, task_queue, timedelta(seconds=15)) == "unchanged"
        await handle.pause(note="ops paused it")
        assert await ensure_hold_sweep(client, task_queue, timedelta(seconds=5)) == "updated"
        described = await handle.describe()
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(seconds=5)]
        assert described.schedule.state.paused  # an operator's pause stands
        assert described.schedule.state.note == NOTE
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "CartHoldSweepWorkflow" and action.task_queue == task_queue
        memo = await described.memo_value("purpose")
        assert memo == "cart hold expiry"
    finally:
        await handle.delete()


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SWEEP_SECONDS_ENV, raising=False)
    assert sweep_interval() == timedelta(seconds=15)
    monkeypatch.setenv(SWEEP_SECONDS_ENV, "2")
    assert sweep_interval() == timedelta(seconds=2)
    for bad in ("0", "61", "soon"):
        monkeypatch.setenv(SWEEP_SECONDS_ENV, bad)
        with pytest.raises(ValueError, match=SWEEP_SECONDS_ENV):
            sweep_interval()
