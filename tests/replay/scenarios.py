"""Workflow paths whose histories are recorded (make record-histories) and replayed in every run.

Each scenario drives one path of OrderWorkflow to its end on the time-skipping server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle

from dom_workflows.order.models import CancelLine, CancelRequest
from dom_workflows.order.workflows import OrderWorkflow
from tests.order.conftest import OrderHarness, make_order

Scenario = Callable[[OrderHarness], Awaitable[WorkflowHandle[Any, Any]]]


async def happy_path_two_nodes(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    handle = await h.start(
        make_order([("SUP-BOARD", 1), ("BOOT-HIKE-9", 1)], order_id="REC-HAPPY", zip_code="97217")
    )
    state = await h.instructed(handle, 2)
    for sh in state.shipments:
        await h.event(handle, sh.shipment_id, "accepted")
        await h.event(handle, sh.shipment_id, "shipped", carrier="UPS", tracking="1Z1")
        await h.event(handle, sh.shipment_id, "delivered")
    await handle.result()
    return handle


async def sla_timeouts_then_backorder(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    handle = await h.start(make_order([("TREK-POLES", 1)], order_id="REC-SLA"))
    await handle.result()
    return handle


async def rejection_reroute(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    handle = await h.start(make_order([("TEE-MERINO-M", 1)], order_id="REC-REJECT"))
    state = await h.instructed(handle)
    await h.event(handle, state.shipments[0].shipment_id, "rejected", reason="damaged")
    state = await h.until(handle, lambda s: len(s.shipments) == 2, "re-route")
    second = state.shipments[1].shipment_id
    await h.instructed(handle, 2)
    await h.event(handle, second, "shipped", carrier="USPS", tracking="94")
    await h.event(handle, second, "delivered")
    await handle.result()
    return handle


async def cancel_partial_then_whole(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    handle = await h.start(make_order([("BOOT-HIKE-9", 3)], order_id="REC-CANCEL"))
    await h.instructed(handle)
    await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="changed mind"))
    await handle.result()
    return handle


async def invalid_order(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    handle = await h.start(make_order([("NO-SUCH-SKU", 1)], order_id="REC-INVALID"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle


SCENARIOS: dict[str, Scenario] = {
    "order_happy_path_two_nodes": happy_path_two_nodes,
    "order_sla_timeouts_then_backorder": sla_timeouts_then_backorder,
    "order_rejection_reroute": rejection_reroute,
    "order_cancel_partial_then_whole": cancel_partial_then_whole,
    "order_invalid": invalid_order,
}
