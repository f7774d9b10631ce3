"""A worker killed with SIGKILL while orders are in flight: a fresh worker process, with another
PYTHONHASHSEED, finishes every order, with no workflow task failed (nondeterminism after a
restart wedges an order for good) and no unit left reserved once an order has closed.

The stack is the one `dom bench crash` runs (workers/bench/crash.py), each part its own process:
the Temporal dev server on a SQLite file, `dom api`, the partner simulator with small random
delays (so orders are mid-flight when the worker dies) and `dom worker`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dom_workflows.reconcile.models import ReconcileInput, ReconcileReport
from dom_workflows.reconcile.workflows import ReconciliationWorkflow
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


FAULTY_ORDERS = 6


@pytest.mark.timeout(120)
async def test_a_crash_run_with_a_partner_failing_after_its_effects_reconciles_clean(
    tmp_path: Path,
) -> None:
    """The issue's crash run in small: a few orders, the simulator failing a fifth of the calls
    (half of them after their effect, so the DOM cannot tell), the worker SIGKILLed mid-flight.
    Once every order has closed, reconciliation finds nothing between the DOM, its ledger, the
    nodes and the payment provider."""
    crash = await start_crash_stack(tmp_path, DELAYS, hash_seed=3, sim_seed=23)
    since = datetime.now(UTC) - timedelta(seconds=1)
    try:
        async with httpx.AsyncClient(timeout=10.0) as sim:
            r = await sim.post(f"{crash.stack.sim_url}/_config", json={"fail_rate": 0.2})
            r.raise_for_status()
        async with httpx.AsyncClient(
            base_url=crash.stack.api_url, timeout=30.0, headers=crash.stack.api_headers
        ) as api:
            ids = await asyncio.gather(
                *(
                    submit(api, order_body(f"FAULT-{i:03d}", i, multi_every=2))
                    for i in range(FAULTY_ORDERS)
                )
            )
        await until(
            lambda: instructed_orders(crash.stack.sim_url),
            lambda seen: len(seen) >= 2,
            "2 orders instructed",
            within=30,
            interval=0.1,
        )
        await crash.kill_worker()
        crash.start_worker(hash_seed=4)
        await crash.worker_ready()
        await until_closed(crash.client, ids, within=60)
        result = await audit(crash.client, crash.settings.database_url, ids)
        report = await crash.client.execute_workflow(
            ReconciliationWorkflow.run,
            ReconcileInput(since=since, settle=timedelta(0), trigger="test"),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=crash.settings.task_queue,
            result_type=ReconcileReport,
        )
        async with httpx.AsyncClient(base_url=crash.stack.sim_url, timeout=10.0) as sim:
            faults = [e["fault"] for e in (await sim.get("/_log")).json()]
            effects = (await sim.get("/_effects")).json()
    finally:
        await crash.stop()

    # The partner really failed after some effects (the DOM saw a 5xx for work that was done),
    # and no idempotency key or subject had two effects.
    assert faults.count("fail_after") >= 1, faults
    assert effects["duplicates"] == []
    not_completed = [
        (o.order_id, o.workflow_status, o.order_status)
        for o in result.orders
        if o not in result.completed
    ]
    assert not not_completed, f"orders not completed: {not_completed}"
    assert result.nondeterminism == 0
    assert not result.closed_holding_reserved
    assert result.violations == []
    assert report.findings == [], [(f.kind, f.subject, f.summary) for f in report.findings]
    assert report.compared["orders"] >= FAULTY_ORDERS
    assert report.compared["captures"] >= FAULTY_ORDERS
    assert report.not_compared == []
