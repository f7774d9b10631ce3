"""A worker killed with SIGKILL while orders are in flight: a fresh worker process, with another
PYTHONHASHSEED, finishes every order, with no workflow task failed (nondeterminism after a
restart wedges an order for good) and no unit left reserved once an order has closed.

The stack is the one `dom bench crash` runs (workers/bench/crash.py), each part its own process:
the Temporal dev server on a SQLite file, `dom api`, the partner simulator with small random
delays (so orders are mid-flight when the worker dies) and `dom worker`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.support.until import until
from workers.bench.crash import (
    SimDelays,
    audit,
    instructed_orders,
    order_body,
    start_crash_stack,
    submit,
    until_closed,
)

pytestmark = pytest.mark.devserver

ORDERS = 30
DELAYS = SimDelays(accept=0.5, ship=1.0, deliver=1.0, jitter=0.5)


@pytest.mark.timeout(180)
async def test_orders_finish_after_the_worker_is_killed_mid_flight(tmp_path: Path) -> None:
    crash = await start_crash_stack(tmp_path, DELAYS, hash_seed=1, sim_seed=11)
    try:
        async with httpx.AsyncClient(
            base_url=crash.stack.api_url, timeout=30.0, headers=crash.stack.api_headers
        ) as api:
            ids = await asyncio.gather(
                *(submit(api, order_body(f"KILL-{i:03d}", i, multi_every=2)) for i in range(ORDERS))
            )
        instructed = await until(
            lambda: instructed_orders(crash.stack.sim_url),
            lambda seen: len(seen) >= ORDERS // 3,
            f"{ORDERS // 3} orders instructed",
            within=30,
            interval=0.1,
        )
        killed = await crash.kill_worker()
        assert len(instructed) < ORDERS, "every order was instructed before the kill"
        crash.start_worker(hash_seed=2)
        await crash.worker_ready()

        await until_closed(crash.client, ids, within=90)
        result = await audit(crash.client, crash.settings.database_url, ids)
    finally:
        await crash.stop()

    assert len(result.orders) == ORDERS
    # A workflow task that fails for good (nondeterminism) leaves its order running forever.
    stuck = {o.order_id: (o.pending_task_attempt, o.task_failures) for o in result.stuck}
    assert not stuck, f"orders still running (workflow task attempt, failures): {stuck}"
    # Single- and multi-shipment orders (half of them: two followers whose commands must replay
    # in the same order on the new worker) both went through the crash.
    assert sum(1 for o in result.orders if o.shipments > 1) == ORDERS // 2
    not_completed = [
        (o.order_id, o.workflow_status, o.order_status)
        for o in result.orders
        if o not in result.completed
    ]
    assert not not_completed, f"orders not completed: {not_completed}"
    failures = {o.order_id: o.task_failures for o in result.orders if o.task_failures}
    assert result.nondeterminism == 0, f"nondeterminism: {failures}"
    assert result.task_failures == 0, f"workflow task failures: {failures}"
    assert not result.closed_without_closure, [o.order_id for o in result.closed_without_closure]
    holding = {o.order_id: o.reserved_units for o in result.closed_holding_reserved}
    assert not holding, f"closed orders holding reserved units: {holding}"
    assert result.violations == []

    assert killed in crash.pids.values()
    assert set(crash.pids) == {"temporal#1", "simulator", "api", "worker-1", "worker-2"}
    assert crash.alive() == [], f"still running: {crash.alive()}"
