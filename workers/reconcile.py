"""The `dom-reconcile` Temporal Schedule: created (or brought up to date) wherever the system
starts -- every worker -- like the cart hold sweep (workers/hold_sweep.py); creating it again
is harmless. Why a Schedule: see dom_workflows.reconcile.workflows.

Once a day by default (`DOM_RECONCILE_HOURS`, 1..168); each run looks back two days, so a
missed day is covered by the next run.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from dom_workflows.config import TASK_QUEUE
from dom_workflows.reconcile.models import ReconcileInput
from dom_workflows.reconcile.workflows import ReconciliationWorkflow

log = logging.getLogger("dom.reconcile")

HOURS_ENV = "DOM_RECONCILE_HOURS"
DEFAULT_INTERVAL = timedelta(days=1)
CATCHUP_WINDOW = timedelta(hours=6)
RUN_TIMEOUT = timedelta(hours=2)
NOTE = (
    "Compares what nodes, the payment provider and the carrier hold with the DOM's orders and "
    "ledger: one ReconciliationWorkflow per day; its details list every divergence and what was "
    "done. See docs/reconciliation.md."
)


def interval() -> timedelta:
    raw = os.environ.get(HOURS_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"{HOURS_ENV} must be a number of hours, not {raw!r}") from None
    if not 1 <= hours <= 168:
        raise ValueError(f"{HOURS_ENV} must be between 1 and 168 hours, not {raw}")
    return timedelta(hours=hours)


def schedule_id(task_queue: str) -> str:
    return "dom-reconcile" if task_queue == TASK_QUEUE else f"dom-reconcile-{task_queue}"


def reconcile_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconciliationWorkflow.run,
            ReconcileInput(trigger="schedule"),
            id=schedule_id(task_queue),  # the server appends each run's time
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
            static_summary="Reconcile partners and ledger with the DOM; details list findings",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note=NOTE),
    )


def _same(current: Schedule, wanted: Schedule) -> bool:
    a, b = current.action, wanted.action
    return (
        isinstance(a, ScheduleActionStartWorkflow)
        and isinstance(b, ScheduleActionStartWorkflow)
        and a.task_queue == b.task_queue
        and a.workflow == b.workflow
        and [i.every for i in current.spec.intervals] == [i.every for i in wanted.spec.intervals]
    )


async def ensure_reconcile_schedule(
    client: Client, task_queue: str, every: timedelta | None = None
) -> Literal["created", "updated", "unchanged"]:
    """Create the schedule, or update it if its interval or task queue changed. A paused
    schedule stays paused (an operator paused it)."""
    wanted = reconcile_schedule(task_queue, every or interval())
    sid = schedule_id(task_queue)
    try:
        await client.create_schedule(
            sid, wanted, memo={"purpose": "reconciliation", "task_queue": task_queue}
        )
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(sid)
    if _same((await handle.describe()).schedule, wanted):
        return "unchanged"

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        paused = current.description.schedule.state.paused
        wanted.state = ScheduleState(note=NOTE, paused=paused)
        return ScheduleUpdate(schedule=wanted)

    await handle.update(update)
    return "updated"


async def start_reconcile_schedule(client: Client, task_queue: str) -> None:
    """`ensure_reconcile_schedule` for process start-up: a failure is logged, not fatal."""
    try:
        outcome = await ensure_reconcile_schedule(client, task_queue)
    except Exception as e:  # e.g. a namespace where this identity may not create schedules
        log.warning("could not create the %s schedule: %s", schedule_id(task_queue), e)
        return
    log.info("reconciliation schedule %s: %s", schedule_id(task_queue), outcome)
