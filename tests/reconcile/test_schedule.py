"""On the real dev server: the `dom-reconcile` Schedule starts ReconciliationWorkflow, whose
details (what the Temporal UI shows) list each finding and what was done; and `dom reconcile`
itself: its report of the recorded run and its refusals."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from asyncio.subprocess import PIPE
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleActionStartWorkflow

from tests.support.reconcile import Stack, leave_reservation
from tests.support.until import until
from workers.reconcile import NOTE, ensure_reconcile_schedule, schedule_id

pytestmark = pytest.mark.devserver
DOM = str(Path(sys.executable).with_name("dom"))


async def test_the_schedule_runs_and_its_details_list_the_findings(stack: Stack) -> None:
    client = stack.client
    order_id = await stack.order([("BOOT-HIKE-9", 1)])
    state = await stack.completed(order_id)
    node = state.shipments[0].node
    await leave_reservation(stack, order_id, f"{order_id}:1:{node}", node, "BOOT-HIKE-9", 1)
    handle = client.get_schedule_handle(schedule_id(stack.task_queue))
    assert await ensure_reconcile_schedule(client, stack.task_queue, timedelta(hours=24)) == (
        "created"
    )
    try:
        assert await ensure_reconcile_schedule(client, stack.task_queue, timedelta(hours=24)) == (
            "unchanged"
        )
        described = await handle.describe()
        assert described.schedule.state.note == NOTE
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "ReconciliationWorkflow"
        await handle.trigger()  # what "Trigger" in the UI does; the daily run is the same
        runs = await until(
            lambda: handle.describe(),
            lambda d: bool(d.info.recent_actions),
            "the triggered run",
            within=20,
        )
        started = runs.info.recent_actions[0].action
        assert isinstance(started, ScheduleActionExecutionStartWorkflow)
        run_id = started.workflow_id
        await client.get_workflow_handle(run_id).result()
        meta = await client.get_workflow_handle(run_id).query(
            "__temporal_workflow_metadata", result_type=WorkflowMetadata
        )
        assert "1 repaired" in meta.current_details, meta.current_details
        assert f"| repaired | orphan-reservation | {order_id} |" in meta.current_details
        assert await ensure_reconcile_schedule(client, stack.task_queue, timedelta(hours=12)) == (
            "updated"
        )
    finally:
        await handle.delete()


async def _dom(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `dom` script, awaited: the simulator it asks answers from this event loop."""
    env = os.environ | {
        "DOM_DATABASE_URL": stack.engine.url.render_as_string(hide_password=False),
        "TEMPORAL_ADDRESS": stack.client.service_client.config.target_host,
        "DOM_PARTNER_SIM_URL": stack.sim_url,
        "DOM_TASK_QUEUE": stack.task_queue,
        "COLUMNS": "200",
    }
    proc = await asyncio.create_subprocess_exec(
        DOM, "reconcile", *args, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


async def test_dom_reconcile_prints_the_divergences_and_its_report(stack: Stack) -> None:
    order_id = await stack.order([("BOOT-HIKE-9", 1)])
    state = await stack.completed(order_id)
    node = state.shipments[0].node
    await leave_reservation(stack, order_id, f"{order_id}:1:{node}", node, "BOOT-HIKE-9", 1)

    dry = await _dom(stack, "--dry-run", "--since", "1h")
    assert dry.returncode == 1, dry.stderr  # something is left for ops
    assert "orphan-reservation" in dry.stdout and order_id in dry.stdout
    assert "0 repaired" in dry.stdout and "1 not repaired" in dry.stdout
    report = await _dom(stack, "--report")
    assert report.returncode == 1 and "dry run" in report.stdout and order_id in report.stdout

    fixed = await _dom(stack, "--since", "1h")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "1 repaired" in fixed.stdout and "Traceback" not in fixed.stderr
    clean = await _dom(stack, "--since", "1h")
    assert clean.returncode == 0 and "No divergence" in clean.stdout

    bad = await _dom(stack, "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr
