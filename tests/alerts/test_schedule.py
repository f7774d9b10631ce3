"""On the real dev server: the `dom-alerts` Schedule runs AlertEvaluationWorkflow, whose details
list what opened; Temporal visibility finds an order that was never routed; and a few normal
orders, run to delivery, raise no alert under the default rules."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from activities.alerts import store
from activities.alerts.evaluate import evaluate
from activities.alerts.visibility import TemporalVisibility
from dom_workflows.alerts.rules import LowStock
from dom_workflows.network import Network
from dom_workflows.order import search_attributes as attrs
from dom_workflows.order.models import OrderStatus, order_workflow_id
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.alerts import only_rules, set_available
from tests.support.harness import make_order, order_harness
from tests.support.until import until
from workers.alerts import NOTE, ensure_alert_schedule, schedule_id

pytestmark = pytest.mark.devserver
ALERT_SUMMARY = "Evaluate alert rules; details list what opened and resolved"


async def _details(client: Client, workflow_id: str) -> str:
    meta = await client.get_workflow_handle(workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return meta.current_details


async def test_the_schedule_evaluates_and_the_run_details_list_what_opened(
    dev_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    client = dev_env.client
    await only_rules(sqlite_engine, LowStock(id="low", nodes=["wh-reno"]))
    await set_available(sqlite_engine, "wh-reno", "JKT-RAIN-L", 3)
    handle = client.get_schedule_handle(schedule_id(task_queue))
    async with order_harness(dev_env, sqlite_engine, network, task_queue):
        assert await ensure_alert_schedule(client, task_queue, timedelta(seconds=1)) == "created"
        started = time.monotonic()
        try:
            opened = await until(
                lambda: store.list_alerts(sqlite_engine, "open"),
                lambda alerts: len(alerts) == 1,
                "the scheduled evaluation to open the low-stock alert",
                within=30,
                interval=0.2,
            )
            assert opened[0].key == "low:wh-reno/JKT-RAIN-L"
            print(f"\nlow stock opened {time.monotonic() - started:.1f} s after the schedule began")
            described = await handle.describe()
            assert described.schedule.state.note == NOTE
            action = described.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "AlertEvaluationWorkflow"
            runs = [a.action.workflow_id for a in described.info.recent_actions]
            # What the Temporal UI shows: each run's static summary and its current details.
            details = [await _details(client, wid) for wid in runs]
            assert any("opened  low:wh-reno/JKT-RAIN-L" in d for d in details), details
            first = await client.get_workflow_handle(runs[0]).describe()
            assert (await first.static_summary()) == ALERT_SUMMARY
        finally:
            await handle.delete()
    assert await ensure_alert_schedule(client, task_queue, timedelta(seconds=5)) == "created"
    assert await ensure_alert_schedule(client, task_queue, timedelta(seconds=5)) == "unchanged"
    assert await ensure_alert_schedule(client, task_queue, timedelta(seconds=9)) == "updated"
    await handle.delete()


async def test_visibility_finds_an_order_that_was_never_routed(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_env.client
    order = make_order([("BOOT-HIKE-9", 1)])
    # No worker polls this queue: the order stays `received`, as when routing is down.
    handle = await client.start_workflow(
        OrderWorkflow.run,
        order,
        id=order_workflow_id(order.order_id),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(attrs.ORDER_STATUS, "received")]
        ),
    )
    try:
        vis = TemporalVisibility(client, task_queue)
        later = datetime.now(UTC) + timedelta(minutes=11)
        stuck = await until(
            lambda: vis.unrouted(later - timedelta(minutes=10)),
            lambda found: len(found) == 1,
            "visibility to list the order",
        )
        assert stuck[0].workflow_id == handle.id
        assert await vis.started_since(datetime.now(UTC) - timedelta(minutes=1)) == 1
        assert await TemporalVisibility(client, f"{task_queue}-other").unrouted(later) == []
    finally:
        await handle.terminate()


async def test_a_few_normal_orders_raise_no_alert(
    dev_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    async with order_harness(dev_env, sqlite_engine, network, task_queue) as h:
        for lines in ([("BOOT-HIKE-9", 1)], [("SOCK-WOOL-3PK", 2)], [("FLEECE-M", 1)]):
            handle = await h.start(make_order(lines, order_id=f"OK-{uuid.uuid4().hex[:8]}"))
            state = await h.instructed(handle)
            state = await h.instructed(handle, len(state.shipments))
            for sh in state.shipments:
                await h.event(handle, sh.shipment_id, "accepted")
                await h.event(handle, sh.shipment_id, "shipped", carrier="UPS", tracking="1Z")
                await h.event(handle, sh.shipment_id, "delivered")
            assert (await handle.result()).status == OrderStatus.COMPLETED
    vis = TemporalVisibility(dev_env.client, task_queue)
    await until(
        lambda: vis.started_since(datetime.now(UTC) - timedelta(minutes=5)),
        lambda n: n == 3,
        "visibility to count the orders",
    )
    # The default rules, looked at later than any of their windows (order-not-routed waits 10
    # minutes): nothing opens.
    result = await evaluate(
        sqlite_engine, vis, datetime.now(UTC) + timedelta(minutes=11), deliver=False
    )
    assert result.errors == [] and result.opened == [], result
    assert await store.list_alerts(sqlite_engine) == []
