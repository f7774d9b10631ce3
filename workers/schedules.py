"""Every Temporal Schedule the DOM runs, created (or brought up to date) wherever the system
starts: each worker, `dom dev` and `dom setup`. One list, so a new Schedule cannot be started by
one of them and forgotten by another."""

from __future__ import annotations

from temporalio.client import Client

from workers.alerts import ALERT_EVALUATION
from workers.hold_sweep import HOLD_SWEEP
from workers.reconcile import RECONCILIATION
from workers.recurring import Outcome

SCHEDULES = (HOLD_SWEEP, ALERT_EVALUATION, RECONCILIATION)


async def start_schedules(client: Client, task_queue: str) -> None:
    """At process start: each Schedule created or updated; a failure is logged, not fatal."""
    for recurring in SCHEDULES:
        await recurring.start(client, task_queue)


async def ensure_schedules(client: Client, task_queue: str) -> list[tuple[str, str, Outcome]]:
    """For `dom setup`: (what, schedule id, created | updated | unchanged) for each; errors raise."""
    return [
        (r.what, r.schedule_id(task_queue), await r.ensure(client, task_queue)) for r in SCHEDULES
    ]
