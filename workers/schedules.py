"""Every Temporal Schedule the DOM runs, created (or brought up to date) wherever the system
starts: each worker, `dom dev` and `dom setup`. One list, so a new Schedule cannot be started by
one of them and forgotten by another."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio.client import Client

from workers.alerts import ensure_alert_schedule, start_alert_schedule
from workers.alerts import schedule_id as alert_schedule_id
from workers.hold_sweep import ensure_hold_sweep, start_hold_sweep
from workers.hold_sweep import schedule_id as hold_sweep_schedule_id
from workers.reconcile import ensure_reconcile_schedule, start_reconcile_schedule
from workers.reconcile import schedule_id as reconcile_schedule_id

Ensure = Callable[[Client, str], Awaitable[str]]

# (what it is, its id, create-or-update returning what it did, the same logging a failure)
SCHEDULES: tuple[
    tuple[str, Callable[[str], str], Ensure, Callable[[Client, str], Awaitable[None]]], ...
] = (
    ("cart hold sweep", hold_sweep_schedule_id, ensure_hold_sweep, start_hold_sweep),
    ("alert evaluation", alert_schedule_id, ensure_alert_schedule, start_alert_schedule),
    ("reconciliation", reconcile_schedule_id, ensure_reconcile_schedule, start_reconcile_schedule),
)


async def start_schedules(client: Client, task_queue: str) -> None:
    """At process start: each Schedule created or updated; a failure is logged, not fatal."""
    for _, _, _, start in SCHEDULES:
        await start(client, task_queue)


async def ensure_schedules(client: Client, task_queue: str) -> list[tuple[str, str, str]]:
    """For `dom setup`: (what, schedule id, created | updated | unchanged) for each; errors raise."""
    return [
        (what, schedule_id(task_queue), await ensure(client, task_queue))
        for what, schedule_id, ensure, _ in SCHEDULES
    ]
