"""The `cart-hold-sweep` Temporal Schedule: created (or brought up to date) wherever the system
starts -- every worker, `dom dev`, `dom setup` -- so it exists without a separate step, and
creating it again is harmless. Why a Schedule: see dom_workflows.carts.workflows.

`DOM_HOLD_SWEEP_SECONDS` (default 15) sets the interval: an expired hold is released within
about that long plus one sweep (the 60 s promise leaves room for a slow or retried run).
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

from dom_workflows.carts.workflows import CartHoldSweepWorkflow
from dom_workflows.config import TASK_QUEUE

log = logging.getLogger("dom.holds")

SWEEP_SECONDS_ENV = "DOM_HOLD_SWEEP_SECONDS"
DEFAULT_SWEEP = timedelta(seconds=15)
# Runs missed while the server was down are made up if they are at most this late.
CATCHUP_WINDOW = timedelta(minutes=5)
RUN_TIMEOUT = timedelta(minutes=5)
NOTE = (
    "Releases shopping-cart holds past their expiry (units back to ATP): one short "
    "CartHoldSweepWorkflow per tick; see docs/api.md#cart-holds."
)


def sweep_interval() -> timedelta:
    raw = os.environ.get(SWEEP_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_SWEEP
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{SWEEP_SECONDS_ENV} must be a number of seconds, not {raw!r}") from None
    if not 1 <= seconds <= 60:
        raise ValueError(f"{SWEEP_SECONDS_ENV} must be between 1 and 60 seconds, not {raw}")
    return timedelta(seconds=seconds)


def schedule_id(task_queue: str) -> str:
    """One schedule per task queue (the default queue's is plainly `cart-hold-sweep`)."""
    return "cart-hold-sweep" if task_queue == TASK_QUEUE else f"cart-hold-sweep-{task_queue}"


def sweep_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CartHoldSweepWorkflow.run,
            id=schedule_id(task_queue),  # the server appends each run's time
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
            static_summary="Expire cart holds past their expiry",
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


async def ensure_hold_sweep(
    client: Client, task_queue: str, every: timedelta | None = None
) -> Literal["created", "updated", "unchanged"]:
    """Create the sweep schedule, or update it if its interval or task queue changed. A paused
    schedule stays paused (an operator paused it)."""
    wanted = sweep_schedule(task_queue, every or sweep_interval())
    sid = schedule_id(task_queue)
    try:
        await client.create_schedule(
            sid, wanted, memo={"purpose": "cart hold expiry", "task_queue": task_queue}
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


async def start_hold_sweep(client: Client, task_queue: str) -> None:
    """`ensure_hold_sweep` for process start-up: a failure is logged, not fatal (orders still
    work; holds then expire on the next start that can create the schedule)."""
    try:
        outcome = await ensure_hold_sweep(client, task_queue)
    except Exception as e:  # e.g. a namespace where this identity may not create schedules
        log.warning("could not create the %s schedule: %s", schedule_id(task_queue), e)
        return
    log.info("cart hold sweep schedule %s: %s", schedule_id(task_queue), outcome)
