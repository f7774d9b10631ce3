"""The long-lived coordinators continue-as-new, so their histories stay bounded however many
orders pass through them; the state they carry survives the hand-over."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dom_workflows.backorder.models import StockArrival, Waiter, WaitlistState
from dom_workflows.backorder.workflows import SkuWaitlistWorkflow
from dom_workflows.consolidation.models import ConsolidationState, JoinConsolidation
from dom_workflows.consolidation.workflows import ConsolidationWorkflow


async def runs_of(client: Client, workflow_id: str, first_run: str) -> int:
    """How many runs the chain had: follow ContinuedAsNew events from the first run."""
    runs, run_id = 0, first_run
    while run_id:
        runs += 1
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else ""
        )
    return runs


async def test_the_waitlist_continues_as_new_and_keeps_its_queue(
    time_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_env.client
    async with Worker(client, task_queue=task_queue, workflows=[SkuWaitlistWorkflow]):
        # Waiters whose workflows no longer exist: each wake-up fails and drops them, one per
        # wake, so five waiters take five wake-ups -- three runs at two wake-ups per run.
        queue = [Waiter(workflow_id=f"backorder-gone-{i}", qty=1) for i in range(5)]
        handle = await client.start_workflow(
            SkuWaitlistWorkflow.run,
            WaitlistState(sku="CAN-SKU", queue=queue, wakes_per_run=2),
            id="waitlist-CAN-SKU",
            task_queue=task_queue,
        )
        await handle.signal(
            SkuWaitlistWorkflow.stock_arrived, StockArrival(node="wh-reno", qty=9, reference="r")
        )
        await handle.result()
        assert (
            await runs_of(client, handle.id, handle.first_execution_run_id or handle.run_id or "")
            == 3
        )


async def test_the_consolidation_continues_as_new_with_its_open_groups(
    time_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_env.client
    async with Worker(client, task_queue=task_queue, workflows=[ConsolidationWorkflow]):
        joins = [
            JoinConsolidation(
                customer_id="C-CAN",
                address_key=f"1000{i}|1 main st",
                node="wh-reno",
                order_workflow_id=f"order-gone-{i}",
                shipment_id=f"gone-{i}:1:wh-reno",
                window=timedelta(minutes=i + 1),
            )
            for i in range(3)
        ]
        handle = await client.start_workflow(
            ConsolidationWorkflow.run,
            ConsolidationState(customer_id="C-CAN", pending=joins, groups_per_run=1),
            id="consolidate-C-CAN",
            task_queue=task_queue,
        )
        await handle.result()  # the three windows close, one group per run
        assert (
            await runs_of(client, handle.id, handle.first_execution_run_id or handle.run_id or "")
            == 3
        )
