"""The `dom-alerts` Temporal Schedule (workers/recurring.py). Why a Schedule: see
dom_workflows.alerts.workflows.

`DOM_ALERT_EVAL_SECONDS` (default 60) sets the interval: an alert opens at the first evaluation
after its condition starts to hold, so within one interval (plus one run).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from dom_workflows.alerts.workflows import AlertEvaluationWorkflow
from workers.recurring import Interval, Outcome, Recurring

EVAL_SECONDS_ENV = "DOM_ALERT_EVAL_SECONDS"
NOTE = (
    "Evaluates the alert rules (dom alerts rules): one short AlertEvaluationWorkflow per tick; "
    "its details list what opened and resolved. See docs/alerts.md."
)
ALERT_EVALUATION = Recurring(
    what="alert evaluation",
    purpose="alert evaluation",
    base_id="dom-alerts",
    workflow=AlertEvaluationWorkflow.run,
    summary="Evaluate alert rules; details list what opened and resolved",
    note=NOTE,
    interval=Interval(EVAL_SECONDS_ENV, "seconds", 1, 3600, timedelta(seconds=60)),
    catchup_window=timedelta(minutes=5),
    run_timeout=timedelta(minutes=5),
)


def eval_interval() -> timedelta:
    return ALERT_EVALUATION.interval.read()


def schedule_id(task_queue: str) -> str:
    return ALERT_EVALUATION.schedule_id(task_queue)


async def ensure_alert_schedule(
    client: Client, task_queue: str, every: timedelta | None = None
) -> Outcome:
    return await ALERT_EVALUATION.ensure(client, task_queue, every)
