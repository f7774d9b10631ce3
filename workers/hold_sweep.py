"""The `cart-hold-sweep` Temporal Schedule (workers/recurring.py). Why a Schedule: see
dom_workflows.carts.workflows.

`DOM_HOLD_SWEEP_SECONDS` (default 15) sets the interval: an expired hold is released within
about that long plus one sweep (the 60 s promise leaves room for a slow or retried run).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from dom_workflows.carts.workflows import CartHoldSweepWorkflow
from workers.recurring import Interval, Outcome, Recurring

SWEEP_SECONDS_ENV = "DOM_HOLD_SWEEP_SECONDS"
NOTE = (
    "Releases shopping-cart holds past their expiry (units back to ATP): one short "
    "CartHoldSweepWorkflow per tick; see docs/api.md#cart-holds."
)
HOLD_SWEEP = Recurring(
    what="cart hold sweep",
    purpose="cart hold expiry",
    base_id="cart-hold-sweep",
    workflow=CartHoldSweepWorkflow.run,
    summary="Expire cart holds past their expiry",
    note=NOTE,
    interval=Interval(SWEEP_SECONDS_ENV, "seconds", 1, 60, timedelta(seconds=15)),
    # Runs missed while the server was down are made up if they are at most this late.
    catchup_window=timedelta(minutes=5),
    run_timeout=timedelta(minutes=5),
)


def sweep_interval() -> timedelta:
    return HOLD_SWEEP.interval.read()


def schedule_id(task_queue: str) -> str:
    return HOLD_SWEEP.schedule_id(task_queue)


async def ensure_hold_sweep(
    client: Client, task_queue: str, every: timedelta | None = None
) -> Outcome:
    return await HOLD_SWEEP.ensure(client, task_queue, every)
