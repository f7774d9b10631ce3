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
from tests.support.harness import OrderHarness, make_order

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


async def held_as_received_then_cancelled(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    order = make_order([("NO-SUCH-SKU", 1)], order_id="REC-REVIEW")
    handle = await h.start(order.model_copy(update={"hold_if_invalid": True}))
    await h.until(handle, lambda s: bool(s.holds), "the review hold")
    await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="unknown SKU"))
    await handle.result()
    return handle


async def paid_at_channel_partly_cancelled(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    order = make_order([("TEE-MERINO-M", 2)], order_id="REC-CHANNEL")
    handle = await h.start(order.model_copy(update={"payment_mode": "channel", "channel": "shop"}))
    state = await h.instructed(handle)
    await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    sid = state.shipments[0].shipment_id
    await h.event(handle, sid, "shipped", carrier="UPS", tracking="1Z2")
    await h.event(handle, sid, "delivered")
    await handle.result()
    return handle


SCENARIOS: dict[str, Scenario] = {
    "order_held_as_received_then_cancelled": held_as_received_then_cancelled,
    "order_paid_at_channel_partly_cancelled": paid_at_channel_partly_cancelled,
    "order_happy_path_two_nodes": happy_path_two_nodes,
    "order_sla_timeouts_then_backorder": sla_timeouts_then_backorder,
    "order_rejection_reroute": rejection_reroute,
    "order_cancel_partial_then_whole": cancel_partial_then_whole,
    "order_invalid": invalid_order,
}


# ----------------------------------------------------------------- returns (ReturnWorkflow)
# Run with the simulator as payment provider and carrier (test_replay.py: test_record_return);
# each returns the ReturnWorkflow's handle, whose history is recorded.


def _returns(h: OrderHarness) -> Any:
    from tests.support.returns import Returns
    from workers.client import DomClient

    return Returns(h, DomClient(h.client, h.task_queue), h.engine)


def _rma(*lines: tuple[str, int], **kw: Any) -> Any:
    from dom_workflows.returns.models import ReturnLineRequest, ReturnRequest

    return ReturnRequest(
        lines=[ReturnLineRequest(line_id=lid, qty=q, reason="recorded") for lid, q in lines], **kw
    )


def _receipt(rma_id: str, *lines: tuple[str, int, str]) -> Any:
    from dom_workflows.returns.models import ReceivedUnits, ReturnReceipt

    return ReturnReceipt(
        event_id=f"{rma_id}:received",
        rma_id=rma_id,
        lines=[ReceivedUnits(line_id=lid, qty=q, grade=g) for lid, q, g in lines],  # type: ignore[arg-type]
    )


async def return_received_restocked_refunded(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    r = _returns(h)
    order = make_order([("BOOT-HIKE-9", 3)], order_id="REC-RET-REFUND")
    await r.deliver(order)
    rma = (await r.dom.create_return(order.order_id, _rma(("1", 2)))).rma_id
    await r.until(rma, lambda s: s.label is not None, "a return label")
    receipt = _receipt(rma, ("1", 1, "resell"), ("1", 1, "scrap"))
    await r.dom.report_return_received(rma, receipt)
    await r.dom.report_return_received(rma, receipt)  # a redelivered event
    await r.result(rma)
    handle: WorkflowHandle[Any, Any] = r.dom.return_handle(rma)
    return handle


async def return_window_expired(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    from datetime import timedelta

    r = _returns(h)
    order = make_order([("BOOT-HIKE-9", 1)], order_id="REC-RET-EXPIRED")
    await r.deliver(order)
    rma = (await r.dom.create_return(order.order_id, _rma(("1", 1)))).rma_id
    await r.until(rma, lambda s: s.label is not None, "a return label")
    await r.result(rma, skip=timedelta(days=31))
    handle: WorkflowHandle[Any, Any] = r.dom.return_handle(rma)
    return handle


async def return_exchange(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    r = _returns(h)
    order = make_order([("BOOT-HIKE-9", 1)], order_id="REC-RET-EXCHANGE")
    await r.deliver(order)
    rma = (await r.dom.create_return(order.order_id, _rma(("1", 1), exchange=True))).rma_id
    await r.until(rma, lambda s: s.label is not None, "a return label")
    await r.dom.report_return_received(rma, _receipt(rma, ("1", 1, "refurbish")))
    await r.result(rma)
    handle: WorkflowHandle[Any, Any] = r.dom.return_handle(rma)
    return handle


async def return_refused(h: OrderHarness) -> WorkflowHandle[Any, Any]:
    from workers.client import ReturnRefused

    r = _returns(h)
    order = make_order([("BOOT-HIKE-9", 1)], order_id="REC-RET-REFUSED")
    await r.deliver(order)
    with pytest.raises(ReturnRefused):
        await r.dom.create_return(order.order_id, _rma(("1", 2)))
    handle: WorkflowHandle[Any, Any] = r.dom.return_handle(f"RMA-{order.order_id}-1")
    return handle


RETURN_SCENARIOS: dict[str, Scenario] = {
    "return_received_restocked_refunded": return_received_restocked_refunded,
    "return_window_expired": return_window_expired,
    "return_exchange": return_exchange,
    "return_refused": return_refused,
}
