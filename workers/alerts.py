"""The `dom-alerts` Temporal Schedule: created (or brought up to date) wherever the system
starts -- every worker, `dom dev`, `dom setup` -- like the cart hold sweep (workers/hold_sweep.py);
creating it again is harmless. Why a Schedule: see dom_workflows.alerts.workflows.

`DOM_ALERT_EVAL_SECONDS` (default 60) sets the interval: an alert opens at the first evaluation
after its condition starts to hold, so within one interval (plus one run).
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

from dom_workflows.alerts.workflows import AlertEvaluationWorkflow
from dom_workflows.config import TASK_QUEUE

log = logging.getLogger("dom.alerts")

EVAL_SECONDS_ENV = "DOM_ALERT_EVAL_SECONDS"
DEFAULT_INTERVAL = timedelta(seconds=60)
CATCHUP_WINDOW = timedelta(minutes=5)
RUN_TIMEOUT = timedelta(minutes=5)
NOTE = (
    "Evaluates the alert rules (dom alerts rules): one short AlertEvaluationWorkflow per tick; "
    "its details list what opened and resolved. See docs/alerts.md."
)


def eval_interval() -> timedelta:
    raw = os.environ.get(EVAL_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{EVAL_SECONDS_ENV} must be a number of seconds, not {raw!r}") from None
    if not 1 <= seconds <= 3600:
        raise ValueError(f"{EVAL_SECONDS_ENV} must be between 1 and 3600 seconds, not {raw}")
    return timedelta(seconds=seconds)


def schedule_id(task_queue: str) -> str:
    return "dom-alerts" if task_queue == TASK_QUEUE else f"dom-alerts-{task_queue}"


def alert_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AlertEvaluationWorkflow.run,
            id=schedule_id(task_queue),  # the server appends each run's time
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
            static_summary="Evaluate alert rules; details list what opened and resolved",
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


async def ensure_alert_schedule(
    client: Client, task_queue: str, every: timedelta | None = None
) -> Literal["created", "updated", "unchanged"]:
    """Create the schedule, or update it if its interval or task queue changed. A paused
    schedule stays paused (an operator paused it)."""
    wanted = alert_schedule(task_queue, every or eval_interval())
    sid = schedule_id(task_queue)
    try:
        await client.create_schedule(
            sid, wanted, memo={"purpose": "alert evaluation", "task_queue": task_queue}
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


async def start_alert_schedule(client: Client, task_queue: str) -> None:
    """`ensure_alert_schedule` for process start-up: a failure is logged, not fatal."""
    try:
        outcome = await ensure_alert_schedule(client, task_queue)
    except Exception as e:  # e.g. a namespace where this identity may not create schedules
        log.warning("could not create the %s schedule: %s", schedule_id(task_queue), e)
        return
    log.info("alert schedule %s: %s", schedule_id(task_queue), outcome)
