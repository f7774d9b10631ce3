"""OrderWorkflow on the time-skipping test server with the real activities and a SQLite ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.inventory import ledger
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    OrderPolicy,
    OrderStatus,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.harness import OrderHarness, make_order

MAX_ROUTE_ATTEMPTS = OrderPolicy().max_route_attempts


async def reserved_total(h: OrderHarness, sku: str) -> tuple[int, int]:
    view = await ledger.atp_view(h.engine, sku)
    return view.total_reserved, view.total_on_hand


async def test_happy_path_reserves_routes_ships_and_consumes(harness: OrderHarness) -> None:
    order = make_order([("BOOT-HIKE-9", 1), ("SOCK-WOOL-3PK", 2)])
    reserved0, on_hand0 = await reserved_total(harness, "BOOT-HIKE-9")
    handle = await harness.start(order)
    state = await harness.instructed(handle)
    assert state.status == OrderStatus.ROUTED
    assert state.routes[0].strategy == "optimal"
    assert sum(ln.allocated for ln in state.lines) == 3
    assert (await reserved_total(harness, "BOOT-HIKE-9"))[0] == reserved0 + 1

    state = await harness.instructed(handle, len(state.shipments))
    for sh in state.shipments:
        await harness.event(handle, sh.shipment_id, "accepted")
        await harness.event(
            handle, sh.shipment_id, "shipped", carrier="UPS", tracking=f"1Z{sh.node}"
        )
        await harness.event(handle, sh.shipment_id, "delivered")
    result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    assert all(s.status == ShipmentStatus.DELIVERED for s in result.shipments)
    assert all(s.tracking and s.tracking.startswith("1Z") for s in result.shipments)
    rows = await ledger.reservations_of(harness.engine, order.order_id)
    assert rows and all(r["status"] == "consumed" for r in rows)
    assert await reserved_total(harness, "BOOT-HIKE-9") == (reserved0, on_hand0 - 1)
    final = await harness.state(handle)
    kinds = [e.kind for e in final.timeline]
    assert kinds[0] == "received" and kinds[-1] == "completed"
    n = len(final.shipments)
    assert sum(s.units for s in final.shipments) == 3
    assert [kinds.count(k) for k in ("received", "validated", "routed", "completed")] == [1] * 4
    for kind in ("instructed", "accepted", "shipped", "consumed", "delivered"):
        assert kinds.count(kind) == n, kind
    assert kinds.count("released") == 0 and not final.escalations


async def test_nodes_that_never_accept_are_rerouted_then_backordered_until_the_deadline(
    harness: OrderHarness,
) -> None:
    order = make_order([("TREK-POLES", 1)])
    reserved0, on_hand0 = await reserved_total(harness, "TREK-POLES")
    start = await harness.env.get_current_time()
    handle = await harness.start(order)
    result = await handle.result()  # the test server skips each SLA, then the backorder deadline
    state = await harness.state(handle)
    assert result.status == OrderStatus.CANCELLED
    assert result.stop_reason and "backorder deadline passed" in result.stop_reason
    assert state.backorder_workflow_id == f"backorder-{order.order_id}"
    assert len(state.routes) == MAX_ROUTE_ATTEMPTS
    timed_out = [s for s in state.shipments if s.status == ShipmentStatus.TIMED_OUT]
    assert len(timed_out) == MAX_ROUTE_ATTEMPTS
    assert len({s.node for s in timed_out}) == MAX_ROUTE_ATTEMPTS  # never the same node twice
    assert len(state.escalations) == MAX_ROUTE_ATTEMPTS
    assert all("SLA breach" in e and "not accepted within" in e for e in state.escalations)
    kinds = [e.kind for e in state.timeline]
    assert kinds.count("routed") == MAX_ROUTE_ATTEMPTS
    assert kinds.count("instructed") == MAX_ROUTE_ATTEMPTS
    assert kinds.count("node-cancelled") == MAX_ROUTE_ATTEMPTS
    assert kinds.count("released") == MAX_ROUTE_ATTEMPTS
    assert kinds.count("backordered") == 1 and kinds.count("backorder") == 1
    assert state.lines[0].cancelled == 1 and state.lines[0].backordered == 0
    assert await reserved_total(harness, "TREK-POLES") == (reserved0, on_hand0)
    elapsed = await harness.env.get_current_time() - start
    slas = sum((s.sla.accept_within for s in timed_out), timedelta())
    assert elapsed >= slas + OrderPolicy().backorder_deadline


async def test_shipped_but_never_delivered_escalates(harness: OrderHarness) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    state = await harness.instructed(handle)
    sh = state.shipments[0]
    await harness.event(handle, sh.shipment_id, "shipped", carrier="FedEx", tracking="FX1")
    result = await handle.result()
    state = await harness.state(handle)
    assert result.status == OrderStatus.COMPLETED
    assert result.stop_reason == "1 unit shipped without delivery confirmation"
    assert state.escalations == [f"{sh.shipment_id} not delivered within {sh.sla.deliver_within}"]
    kinds = [e.kind for e in state.timeline]
    assert [kinds.count(k) for k in ("instructed", "shipped", "consumed", "delivered")] == [
        1,
        1,
        1,
        0,
    ]


async def test_cancel_before_shipment_releases_everything(harness: OrderHarness) -> None:
    order = make_order([("BOOT-HIKE-9", 2), ("TEE-MERINO-M", 1)])
    before = {s: await reserved_total(harness, s) for s in ("BOOT-HIKE-9", "TEE-MERINO-M")}
    handle = await harness.start(order)
    state = await harness.instructed(handle)
    n = len(state.shipments)
    assert n >= 1 and sum(s.units for s in state.shipments) == 3
    state = await harness.instructed(handle, n)
    result = await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="changed mind"))
    assert result.released_units == 3
    assert result.order_status == OrderStatus.CANCELLED
    final = await handle.result()
    assert final.status == OrderStatus.CANCELLED
    assert all(s.status == ShipmentStatus.CANCELLED for s in final.shipments)
    for sku, totals in before.items():
        assert await reserved_total(harness, sku) == totals
    rows = await ledger.reservations_of(harness.engine, order.order_id)
    assert rows and all(r["status"] == "released" for r in rows)
    kinds = [e.kind for e in (await harness.state(handle)).timeline]
    assert len(final.shipments) == n
    assert kinds.count("instructed") == n and kinds.count("node-cancelled") == n
    assert kinds.count("cancelled") == 2  # the 3 units cancelled, then the order stopped


async def test_partial_cancel_releases_exactly_the_cancelled_units(harness: OrderHarness) -> None:
    order = make_order([("BOOT-HIKE-9", 3)])
    reserved0, _ = await reserved_total(harness, "BOOT-HIKE-9")
    handle = await harness.start(order)
    await harness.instructed(handle)
    result = await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=2)])
    )
    assert result.released_units == 2
    assert result.order_status != OrderStatus.CANCELLED
    assert (await reserved_total(harness, "BOOT-HIKE-9"))[0] == reserved0 + 1
    state = await harness.state(handle)
    assert state.lines[0].cancelled == 2
    assert len(state.shipments) == 1 and state.shipments[0].status.is_open
    assert state.shipments[0].units == 1
    kinds = [e.kind for e in state.timeline]
    assert kinds.count("node-amended") == 1 and kinds.count("node-cancelled") == 0
    assert kinds.count("instructed") == 1 and kinds.count("released") == 1


async def test_cancel_after_everything_shipped_is_refused(harness: OrderHarness) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    state = await harness.instructed(handle)
    await harness.event(
        handle, state.shipments[0].shipment_id, "shipped", carrier="UPS", tracking="1"
    )
    await harness.until(handle, lambda s: s.status == OrderStatus.SHIPPED, "shipped")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(OrderWorkflow.cancel, CancelRequest())
    assert isinstance(err.value.cause, ApplicationError)
    assert "already shipped" in err.value.cause.message
    assert (await harness.state(handle)).status == OrderStatus.SHIPPED


async def test_duplicate_events_change_nothing_twice(harness: OrderHarness) -> None:
    order = make_order([("TEE-MERINO-M", 2)])
    _, on_hand0 = await reserved_total(harness, "TEE-MERINO-M")
    handle = await harness.start(order)
    state = await harness.instructed(handle)
    sid = state.shipments[0].shipment_id
    for _ in range(3):
        await harness.event(handle, sid, "accepted", event_id="ev-accept")
        await harness.event(
            handle, sid, "shipped", event_id="ev-ship", carrier="UPS", tracking="1Z"
        )
    # A different event id reporting the same fact is absorbed by the state machine.
    await harness.event(
        handle, sid, "shipped", event_id="ev-ship-again", carrier="UPS", tracking="1Z"
    )
    await harness.until(
        handle, lambda s: any(e.kind == "consumed" for e in s.timeline), "units consumed"
    )
    await harness.event(handle, sid, "delivered", event_id="ev-deliver")
    await handle.result()
    state = await harness.state(handle)
    kinds = [e.kind for e in state.timeline]
    assert kinds.count("instructed") == 1
    assert kinds.count("accepted") == 1
    assert kinds.count("shipped") == 1
    assert kinds.count("delivered") == 1
    assert kinds.count("consumed") == 1
    assert state.lines[0].shipped == 2 and state.lines[0].delivered == 2
    assert (await reserved_total(harness, "TEE-MERINO-M"))[1] == on_hand0 - 2


async def test_rejection_reroutes_to_another_node(harness: OrderHarness) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    state = await harness.instructed(handle)
    first = state.shipments[0]
    await harness.event(handle, first.shipment_id, "rejected", reason="damaged stock")
    state = await harness.until(handle, lambda s: len(s.shipments) == 2, "re-route")
    second = state.shipments[1]
    assert second.node != first.node
    assert state.shipments[0].status == ShipmentStatus.REJECTED
    assert state.shipments[0].reason == "damaged stock"
    rows = await ledger.reservations_of(harness.engine, state.order_id)
    by_ship = {r["shipment_id"]: r["status"] for r in rows}
    assert by_ship == {first.shipment_id: "released", second.shipment_id: "reserved"}
    kinds = [e.kind for e in (await harness.instructed(handle, 2)).timeline]
    assert [kinds.count(k) for k in ("routed", "instructed", "rejected", "released")] == [
        2,
        2,
        1,
        1,
    ]
    assert state.rejections == [
        f"{first.node} rejected all lines of {first.shipment_id}: damaged stock"
    ]


async def test_invalid_order_fails_with_reasons_and_reserves_nothing(harness: OrderHarness) -> None:
    order = make_order([("NO-SUCH-SKU", 1), ("HAMMOCK", 0)], zip_code="00000")
    handle = await harness.start(order)
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    cause = err.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidOrder"
    assert "unknown SKU 'NO-SUCH-SKU'" in cause.message
    assert "quantity must be at least 1" in cause.message
    assert "00000" in cause.message
    assert await ledger.reservations_of(harness.engine, order.order_id) == []
    final = await harness.state(handle)
    assert final.status == OrderStatus.FAILED
    assert [e.kind for e in final.timeline] == ["received", "failed"]
