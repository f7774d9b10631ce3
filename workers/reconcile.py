"""The `dom-reconcile` Temporal Schedule (workers/recurring.py). Why a Schedule: see
dom_workflows.reconcile.workflows.

Once a day by default (`DOM_RECONCILE_HOURS`, 1..168); each run looks back two days, so a
missed day is covered by the next run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from dom_workflows.reconcile.models import ReconcileInput
from dom_workflows.reconcile.workflows import ReconciliationWorkflow
from workers.recurring import Interval, Outcome, Recurring

HOURS_ENV = "DOM_RECONCILE_HOURS"
NOTE = (
    "Compares what nodes, the payment provider and the carrier hold with the DOM's orders and "
    "ledger: one ReconciliationWorkflow per day; its details list every divergence and what was "
    "done. See docs/reconciliation.md."
)
RECONCILIATION = Recurring(
    what="reconciliation",
    purpose="reconciliation",
    base_id="dom-reconcile",
    workflow=ReconciliationWorkflow.run,
    arg=ReconcileInput(trigger="schedule"),
    summary="Reconcile partners and ledger with the DOM; details list findings",
    note=NOTE,
    interval=Interval(HOURS_ENV, "hours", 1, 168, timedelta(days=1)),
    catchup_window=timedelta(hours=6),
    run_timeout=timedelta(hours=2),
)


def interval() -> timedelta:
    return RECONCILIATION.interval.read()


def schedule_id(task_queue: str) -> str:
    return RECONCILIATION.schedule_id(task_queue)


async def ensure_reconcile_schedule(
    client: Client, task_queue: str, every: timedelta | None = None
) -> Outcome:
    return await RECONCILIATION.ensure(client, task_queue, every)
