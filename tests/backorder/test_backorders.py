"""Backorders on the time-skipping server: units with no stock wait in a BackorderWorkflow; a
receipt wakes the waiting orders for that SKU first come first served; they then reserve, route
and ship; the customer can cancel waiting units."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger
from dom_workflows.backorder.models import (
    BackorderInput,
    BackorderResult,
    StockArrival,
    waitlist_workflow_id,
)
from dom_workflows.backorder.workflows import SkuWaitlistWorkflow
from dom_workflows.inventory.models import InventoryReceipt
from dom_workflows.network import Network
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    OrderPolicy,
    OrderState,
    OrderStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.catalog import with_unstocked_sku
from tests.support.harness import OrderHarness, make_order, order_harness
from tests.support.until import until
from workers.client import DomClient

SKU = "KAYAK-SEAT"  # a new SKU that nobody stocks yet


@pytest_asyncio.fixture
async def bo(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    net = await with_unstocked_sku(sqlite_engine, network, SKU)
    async with order_harness(time_env, sqlite_engine, net, task_queue) as h:
        yield h


async def receive(h: OrderHarness, qty: int, ref: str, node: str = "wh-dallas") -> bool:
    """What `dom inventory receive` does: add stock to the ledger, then wake the waiting list."""
    assert await ledger.receive(
        h.engine, InventoryReceipt(node=node, sku=SKU, qty=qty, reference=ref)
    )
    return await DomClient(h.client, h.task_queue).stock_arrived(
        SKU, StockArrival(node=node, qty=qty, reference=ref)
    )


async def waiting(h: OrderHarness) -> list[str]:
    handle = h.client.get_workflow_handle(waitlist_workflow_id(SKU))
    return [w.workflow_id for w in await handle.query(SkuWaitlistWorkflow.waiting)]


def backordered(s: OrderState) -> int:
    return sum(ln.backordered for ln in s.lines)


async def start_backordered(h: OrderHarness, qty: int) -> WorkflowHandle[Any, Any]:
    handle = await h.start(make_order([(SKU, qty), ("TEE-MERINO-M", 1)]))
    await h.until(
        handle, lambda s: backordered(s) == qty and s.backorder_workflow_id is not None, "backorder"
    )
    return handle


async def test_receipt_wakes_waiting_orders_first_come_first_served(bo: OrderHarness) -> None:
    first = await start_backordered(bo, 2)
    second = await start_backordered(bo, 2)
    order_ids = [(await bo.state(x)).order_id for x in (first, second)]
    wait_ids = [f"backorder-{oid}" for oid in order_ids]
    # queued in arrival order
    await until(lambda: waiting(bo), lambda w: w == wait_ids, "both orders on the waiting list")

    assert await receive(bo, 3, "ASN-1")  # enough for the first order only
    s1 = await bo.until(
        first, lambda s: backordered(s) == 0 and len(s.shipments) == 2, "first order filled"
    )
    assert {sh.node for sh in s1.shipments if any(sl.sku == SKU for sl in sh.lines)} == {
        "wh-dallas"
    }
    # Next in line, the second order takes the one unit left and keeps waiting for the other.
    s2 = await bo.until(second, lambda s: backordered(s) == 1, "second order partly filled")
    assert sum(sl.qty for sh in s2.shipments for sl in sh.lines if sl.sku == SKU) == 1
    assert await waiting(bo) == wait_ids[1:]

    assert await receive(bo, 5, "ASN-2")
    await bo.until(second, lambda s: backordered(s) == 0, "second order filled")
    view = await ledger.atp_view(bo.engine, SKU)
    assert view.total_reserved == 4 and view.total_on_hand == 8


async def test_customer_cancels_the_waiting_units(bo: OrderHarness) -> None:
    handle = await start_backordered(bo, 1)
    state = await bo.state(handle)
    line = next(ln for ln in state.lines if ln.sku == SKU)
    result = await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id=line.line_id)])
    )
    assert [(c.sku, c.qty) for c in result.cancelled] == [(SKU, 1)]
    assert result.released_units == 0  # nothing was reserved for waiting units
    # The backorder ends: the order goes on with the stocked line only.
    bo_handle = bo.client.get_workflow_handle(
        f"backorder-{state.order_id}", result_type=BackorderResult
    )
    done = await bo_handle.result()
    assert done.expired == {} and done.filled == {}
    state = await bo.until(
        handle, lambda s: not any(ln.backordered for ln in s.lines), "backorder gone"
    )
    assert state.status != OrderStatus.CANCELLED
    assert [(ln.qty, ln.cancelled) for ln in state.lines if ln.sku == SKU] == [(1, 1)]
    assert len(state.shipments) == 1 and state.shipments[0].status.is_open  # the stocked line
    await until(lambda: waiting(bo), lambda w: w == [], "the waiting list emptied")


async def test_waiting_orders_are_cancelled_at_the_backorder_deadline(bo: OrderHarness) -> None:
    handle = await start_backordered(bo, 1)
    stocked = (await bo.state(handle)).shipments[0]
    await bo.event(handle, stocked.shipment_id, "shipped", carrier="UPS", tracking="1Z")
    await bo.event(handle, stocked.shipment_id, "delivered")
    result = await handle.result()  # skips the 14-day deadline
    state = await bo.state(handle)
    line = next(ln for ln in state.lines if ln.sku == SKU)
    assert line.cancelled == 1 and line.backordered == 0
    assert result.status == OrderStatus.COMPLETED  # the stocked line was delivered
    # Workflow time only: the deadline the order gave its backorder (the child's input) is the
    # policy's 14 days after the units were backordered, and they were cancelled at it, not before.
    bo_id = state.backorder_workflow_id
    assert bo_id is not None
    history = await bo.client.get_workflow_handle(bo_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [inp] = await bo.client.data_converter.decode(started.input.payloads, [BackorderInput])
    [routed] = [e for e in state.timeline if e.kind == "routed"]  # the route that backordered
    [gave_up] = [e for e in state.timeline if "backorder deadline passed" in e.message]
    assert gave_up.kind == "cancelled"
    assert inp.deadline - routed.at == OrderPolicy().backorder_deadline
    assert inp.deadline <= gave_up.at < inp.deadline + timedelta(minutes=1)
