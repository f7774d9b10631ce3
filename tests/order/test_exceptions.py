"""Fulfilment exceptions: partial rejections, holds (fraud, manual, timeout) and the policy for
units that find no node."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger
from dom_workflows.common.models import ShipmentLine
from dom_workflows.network import Network
from dom_workflows.order.models import (
    OrderStatus,
    PlaceHold,
    ReleaseHold,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.harness import OrderHarness, make_order, order_harness


async def test_partial_rejection_moves_only_the_rejected_lines(harness: OrderHarness) -> None:
    handle = await harness.start(make_order([("BOOT-HIKE-9", 1), ("TEE-MERINO-M", 1)]))
    state = await harness.instructed(handle)
    assert len(state.shipments) == 1
    first = state.shipments[0]
    tee = next(sl for sl in first.lines if sl.sku == "TEE-MERINO-M")
    await harness.event(
        handle,
        first.shipment_id,
        "rejected",
        reason="tee damaged",
        lines=[ShipmentLine(line_id=tee.line_id, sku=tee.sku, qty=1)],
    )
    state = await harness.until(handle, lambda s: len(s.shipments) == 2, "re-route of the tee")
    kept, moved = state.shipments
    assert kept.status == ShipmentStatus.REQUESTED and [sl.sku for sl in kept.lines if sl.qty] == [
        "BOOT-HIKE-9"
    ]
    assert moved.node != kept.node and [sl.sku for sl in moved.lines] == ["TEE-MERINO-M"]
    assert any("tee damaged" in r for r in state.rejections)
    rows = await ledger.reservations_of(harness.engine, state.order_id)
    tee_rows = {(r["shipment_id"], r["status"]) for r in rows if r["sku"] == "TEE-MERINO-M"}
    assert tee_rows == {(kept.shipment_id, "released"), (moved.shipment_id, "reserved")}


async def test_fraud_review_holds_the_order_until_ops_release_it(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    policy = network.order_policy.model_copy(update={"fraud_review_value": Decimal("100.00")})
    async with order_harness(
        time_env, sqlite_engine, network.model_copy(update={"order_policy": policy}), task_queue
    ) as h:
        order = make_order([("BOOT-HIKE-9", 3)])  # 150.00 >= 100.00
        handle = await h.start(order)
        state = await h.until(handle, lambda s: bool(s.routes) and bool(s.holds), "routed and held")
        assert state.status == OrderStatus.ON_HOLD
        assert state.holds[0].kind == "fraud"
        assert not any(e.kind == "instructed" for e in state.timeline)  # nothing sent while held
        assert (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved == 3  # kept
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(OrderWorkflow.release_hold, ReleaseHold(kind="manual"))
        assert "has no manual hold (holds: fraud)" in str(err.value.cause)
        await handle.execute_update(
            OrderWorkflow.release_hold, ReleaseHold(kind="fraud", note="checked")
        )
        state = await h.instructed(handle)
        assert not state.holds and state.status == OrderStatus.ROUTED


async def test_a_hold_not_released_in_time_cancels_and_compensates(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    policy = network.order_policy.model_copy(update={"fraud_review_value": Decimal("1.00")})
    async with order_harness(
        time_env, sqlite_engine, network.model_copy(update={"order_policy": policy}), task_queue
    ) as h:
        reserved0 = (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved
        handle = await h.start(make_order([("BOOT-HIKE-9", 1)]))
        result = await handle.result()  # skips the two-day hold timeout
        state = await h.state(handle)
        assert result.status == OrderStatus.CANCELLED
        assert "hold not released within" in (result.stop_reason or "")
        assert state.escalations and "fraud hold" in state.escalations[0]
        assert (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved == reserved0


async def test_manual_hold_refused_on_a_finished_order(harness: OrderHarness) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    state = await harness.instructed(handle)
    sid = state.shipments[0].shipment_id
    await harness.event(handle, sid, "shipped", carrier="UPS", tracking="1Z")
    await harness.until(handle, lambda s: s.status == OrderStatus.SHIPPED, "shipped")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(OrderWorkflow.place_hold, PlaceHold(reason="check address"))
    assert "nothing left to hold" in str(err.value.cause)


async def test_policy_can_cancel_units_that_find_no_node(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    policy = network.order_policy.model_copy(
        update={"after_max_attempts": "cancel", "max_route_attempts": 2}
    )
    async with order_harness(
        time_env, sqlite_engine, network.model_copy(update={"order_policy": policy}), task_queue
    ) as h:
        handle = await h.start(make_order([("TREK-POLES", 1)]))
        result = await handle.result()  # two accept SLAs pass, then the policy cancels
        state = await h.state(handle)
        assert result.status == OrderStatus.CANCELLED
        assert len(state.routes) == 2 and state.backorder_workflow_id is None
        assert "found no node after 2 routing attempts" in (result.stop_reason or "")
