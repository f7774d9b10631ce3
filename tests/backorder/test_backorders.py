"""Backorders on the time-skipping server: units with no stock wait in a BackorderWorkflow; a
receipt wakes the waiting orders for that SKU first come first served; they then reserve, route
and ship; the customer can cancel waiting units."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger, schema
from dom_workflows.backorder.models import StockArrival, waitlist_workflow_id
from dom_workflows.backorder.workflows import SkuWaitlistWorkflow
from dom_workflows.inventory.models import InventoryReceipt
from dom_workflows.network import Network, SkuConfig
from dom_workflows.order.models import CancelLine, CancelRequest, OrderState, OrderStatus
from dom_workflows.order.workflows import OrderWorkflow
from tests.order.conftest import OrderHarness, make_order, order_harness
from workers.client import DomClient

SKU = "KAYAK-SEAT"  # a new SKU that nobody stocks yet


@pytest_asyncio.fixture
async def bo(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    async with sqlite_engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=SKU, name="Kayak seat", weight_lb=2.0, price=Decimal("60"), tags=[]
            )
        )
    net = network.model_copy(
        update={
            "skus": [
                *network.skus,
                SkuConfig(sku=SKU, name="Kayak seat", weight_lb=2.0, price=Decimal("60")),
            ]
        }
    )
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
    await bo.until(first, lambda s: True, "started")
    order_ids = [(await bo.state(x)).order_id for x in (first, second)]
    wait_ids = [f"backorder-{oid}" for oid in order_ids]
    for _ in range(100):
        if await waiting(bo) == wait_ids:
            break
    assert await waiting(bo) == wait_ids  # queued in arrival order

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
    bo_handle = bo.client.get_workflow_handle(f"backorder-{state.order_id}")
    done = await bo_handle.result()
    assert done["expired"] == {} if isinstance(done, dict) else not done.expired
    state = await bo.until(
        handle, lambda s: not any(ln.backordered for ln in s.lines), "backorder gone"
    )
    assert state.status != OrderStatus.CANCELLED
    assert await waiting(bo) == [] or state.backorder_workflow_id not in await waiting(bo)


async def test_waiting_orders_are_cancelled_at_the_backorder_deadline(bo: OrderHarness) -> None:
    handle = await start_backordered(bo, 1)
    stocked = (await bo.state(handle)).shipments[0]
    await bo.event(handle, stocked.shipment_id, "shipped", carrier="UPS", tracking="1Z")
    await bo.event(handle, stocked.shipment_id, "delivered")
    start = datetime.now(UTC)
    result = await handle.result()  # skips the 14-day deadline
    state = await bo.state(handle)
    line = next(ln for ln in state.lines if ln.sku == SKU)
    assert line.cancelled == 1 and line.backordered == 0
    assert result.status == OrderStatus.COMPLETED  # the stocked line was delivered
    assert any("backorder deadline passed" in e.message for e in state.timeline)
    assert start <= datetime.now(UTC)
