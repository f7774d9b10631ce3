"""One recurring Temporal Schedule of the DOM, described as data: its id, the workflow each tick
starts, its interval (an environment variable within bounds, with a default), catch-up window
and run timeout. `ensure` creates it or brings it up to date wherever the system starts (every
worker, `dom dev`, `dom setup`), so creating it again is harmless; a paused schedule stays paused
(an operator paused it). workers/schedules.py lists every one."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

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

log = logging.getLogger("dom.schedules")

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Interval:
    """`env` holds a number of `unit`s between `low` and `high`; unset, `default`."""

    env: str
    unit: Literal["seconds", "hours"]
    low: float
    high: float
    default: timedelta

    def read(self) -> timedelta:
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{self.env} must be a number of {self.unit}, not {raw!r}") from None
        if not self.low <= value <= self.high:
            raise ValueError(
                f"{self.env} must be between {self.low:g} and {self.high:g} {self.unit}, not {raw}"
            )
        return timedelta(**{self.unit: value})


@dataclass(frozen=True)
class Recurring:
    what: str  # for people: "cart hold sweep"
    purpose: str  # the schedule's memo: "cart hold expiry"
    base_id: str  # the default task queue's schedule id; other queues get "-<queue>"
    workflow: Callable[..., Any]  # the workflow's run method
    summary: str  # each run's static summary in the Temporal UI
    note: str  # the schedule's note in the Temporal UI
    interval: Interval
    catchup_window: timedelta
    run_timeout: timedelta
    arg: Any = None  # the workflow's argument, if it takes one

    def schedule_id(self, task_queue: str) -> str:
        return self.base_id if task_queue == TASK_QUEUE else f"{self.base_id}-{task_queue}"

    def schedule(self, task_queue: str, every: timedelta) -> Schedule:
        args = [] if self.arg is None else [self.arg]
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow,
                *args,
                id=self.schedule_id(task_queue),  # the server appends each run's time
                task_queue=task_queue,
                execution_timeout=self.run_timeout,
                static_summary=self.summary,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP, catchup_window=self.catchup_window
            ),
            state=ScheduleState(note=self.note),
        )

    async def ensure(
        self, client: Client, task_queue: str, every: timedelta | None = None
    ) -> Outcome:
        """Create the schedule, or update it if its interval, workflow or task queue changed."""
        wanted = self.schedule(task_queue, every or self.interval.read())
        sid = self.schedule_id(task_queue)
        try:
            await client.create_schedule(
                sid, wanted, memo={"purpose": self.purpose, "task_queue": task_queue}
            )
            return "created"
        except ScheduleAlreadyRunningError:
            pass
        handle = client.get_schedule_handle(sid)
        if _same((await handle.describe()).schedule, wanted):
            return "unchanged"

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            paused = current.description.schedule.state.paused
            wanted.state = ScheduleState(note=self.note, paused=paused)
            return ScheduleUpdate(schedule=wanted)

        await handle.update(update)
        return "updated"

    async def start(self, client: Client, task_queue: str) -> None:
        """`ensure` for process start-up: a failure is logged, not fatal (orders still work;
        the next start that can create it does)."""
        try:
            outcome = await self.ensure(client, task_queue)
        except Exception as e:  # e.g. a namespace where this identity may not create schedules
            log.warning("could not create the %s schedule: %s", self.schedule_id(task_queue), e)
            return
        log.info("%s schedule %s: %s", self.what, self.schedule_id(task_queue), outcome)


def _same(current: Schedule, wanted: Schedule) -> bool:
    a, b = current.action, wanted.action
    return (
        isinstance(a, ScheduleActionStartWorkflow)
        and isinstance(b, ScheduleActionStartWorkflow)
        and a.task_queue == b.task_queue
        and a.workflow == b.workflow
        and [i.every for i in current.spec.intervals] == [i.every for i in wanted.spec.intervals]
    )
