"""Joining a customer's consolidation needs signal-with-start, which only a client can do."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from dom_workflows.consolidation.models import (
    ConsolidationState,
    JoinConsolidation,
    consolidation_workflow_id,
)


class ConsolidationActivities:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    @activity.defn
    async def join_consolidation(self, req: JoinConsolidation) -> None:
        # A repeated join of the same shipment is ignored by the group, so retries are harmless.
        await self.client.start_workflow(
            "ConsolidationWorkflow",  # by name: the workflow module imports activity modules
            ConsolidationState(customer_id=req.customer_id),
            id=consolidation_workflow_id(req.customer_id),
            task_queue=self.task_queue,
            start_signal="join",
            start_signal_args=[req],
            static_summary=f"Consolidating shipments of customer {req.customer_id}",
        )
