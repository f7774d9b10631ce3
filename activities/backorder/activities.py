"""Backorder activities: joining and leaving a SKU's waiting list needs signal-with-start, which
only a client can do, so these run with the worker's Temporal client."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from dom_workflows.backorder.models import (
    JoinWaitlist,
    LeaveWaitlist,
    WaitlistState,
    waitlist_workflow_id,
)


class WaitlistActivities:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    @activity.defn
    async def join_waitlist(self, req: JoinWaitlist) -> None:
        # Signal-with-start: starts the SKU's list if nobody waits yet; a repeated join of the
        # same workflow id is ignored by the list, so retries are harmless.
        await self.client.start_workflow(
            # By name: the workflow module imports this one for its activity references.
            "SkuWaitlistWorkflow",
            WaitlistState(sku=req.sku),
            id=waitlist_workflow_id(req.sku),
            task_queue=self.task_queue,
            start_signal="join",
            start_signal_args=[req.waiter],
            static_summary=f"Backorders waiting for {req.sku}, first come first served",
        )

    @activity.defn
    async def leave_waitlist(self, req: LeaveWaitlist) -> None:
        handle = self.client.get_workflow_handle(waitlist_workflow_id(req.sku))
        try:
            await handle.signal("leave", req.workflow_id)
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise  # a list that already ended has nobody to remove
