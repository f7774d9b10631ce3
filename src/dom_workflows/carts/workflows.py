"""CartHoldSweepWorkflow: one short run per tick of the `cart-hold-sweep` Temporal Schedule.

Why a Schedule and not a timer per cart: holds are storefront traffic (every cart, every page
view that adds to it), and a workflow per cart would put Temporal on that hot path; the
`cart_holds` row is the single truth, and one run every few seconds that expires every hold past
its time keeps both the load and the delay bounded (the delay is at most the interval plus one
run). The Schedule lives in the Temporal server, so it survives worker and server restarts: a
run started while no worker polls waits on the task queue and sweeps as soon as one does, and
runs missed while the server was down are caught up (catch-up window). Overlapping runs are
skipped, so a slow sweep never piles up behind itself.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.inventory.hold_sweep import CartHoldActivities
    from dom_workflows.carts.models import SweepResult


@workflow.defn
class CartHoldSweepWorkflow:
    @workflow.run
    async def run(self) -> SweepResult:
        return await workflow.execute_activity_method(
            CartHoldActivities.expire_cart_holds,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10)
            ),
        )
