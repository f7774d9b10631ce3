"""Promise dates inside a workflow: the module runs in the worker's sandbox (zoneinfo and all)
and, fed `workflow.now()`, dates a shipment as it would outside."""

from __future__ import annotations

import uuid
from datetime import datetime

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dom_workflows.network import Network
from dom_workflows.promise.dates import (
    ShipmentDates,
    carrier_calendar,
    node_calendar,
    ship_dates,
)


@workflow.defn(sandboxed=True)
class DatesWorkflow:
    @workflow.run
    async def run(self, network: Network) -> tuple[datetime, list[ShipmentDates]]:
        carriers = carrier_calendar(network)
        now = workflow.now()
        return now, [
            ship_dates(node_calendar(network, node), carriers, now, 2, 1)
            for node in ("wh-dallas", "ds-portland", "store-nyc")
        ]


async def test_a_sandboxed_workflow_dates_shipments_like_the_api(
    time_env: WorkflowEnvironment, network: Network, task_queue: str
) -> None:
    # Imported here, not at the top: the sandbox re-imports this module (it defines the
    # workflow), and the worker module brings the OTLP exporter, which no workflow may import.
    from workers.worker import workflow_runner

    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[DatesWorkflow],
        workflow_runner=workflow_runner(),
    ):
        handle = await time_env.client.start_workflow(
            DatesWorkflow.run, network, id=f"dates-{uuid.uuid4().hex}", task_queue=task_queue
        )
        at, got = await handle.result()
    now = datetime.fromisoformat(at) if isinstance(at, str) else at
    assert now.tzinfo is not None
    carriers = carrier_calendar(network)
    expected = [
        ship_dates(node_calendar(network, node), carriers, now, 2, 1)
        for node in ("wh-dallas", "ds-portland", "store-nyc")
    ]
    assert [ShipmentDates.model_validate(g) for g in got] == expected
