"""A failure after reservation compensates exactly what was done (saga)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.inventory import ledger
from activities.inventory.activities import InventoryActivities
from dom_workflows.config import Settings
from dom_workflows.inventory.models import ReserveAndRouteInput, ReserveAndRouteResult
from dom_workflows.network import Network
from dom_workflows.order.models import OrderStatus, ShipmentStatus
from tests.support.harness import OrderHarness, make_order, replace_activity
from workers.worker import WORKFLOWS, client_activities, dependencies


async def test_failure_after_reserving_compensates_and_says_why(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    async with dependencies(Settings(), engine=sqlite_engine, network=network) as deps:
        real = InventoryActivities(deps.engine, deps.network, deps.policy)

        # Fault injection: the first routing works, any re-route hits a broken routing service.
        @activity.defn(name="reserve_and_route")
        async def flaky_router(inp: ReserveAndRouteInput) -> ReserveAndRouteResult:
            if inp.attempt > 1:
                raise ApplicationError(
                    "routing service misconfigured", type="RoutingError", non_retryable=True
                )
            return await real.reserve_and_route(inp)

        activities = replace_activity(deps, "reserve_and_route", flaky_router)
        activities += client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order = make_order([("SUP-BOARD", 1), ("BOOT-HIKE-9", 1)], zip_code="97217")
            before = {
                s: (await ledger.atp_view(sqlite_engine, s)).total_reserved
                for s in ("SUP-BOARD", "BOOT-HIKE-9")
            }
            handle = await h.start(order)
            state = await h.instructed(handle, 2)
            assert len(state.shipments) == 2
            kept, rejected = state.shipments
            await h.event(handle, kept.shipment_id, "accepted")
            await h.event(handle, rejected.shipment_id, "rejected", reason="out of stock")
            with pytest.raises(WorkflowFailureError) as err:
                await handle.result()
            assert isinstance(err.value.cause, ApplicationError)
            assert "routing service misconfigured" in err.value.cause.message
            final = await h.state(handle)

    assert final.status == OrderStatus.FAILED
    assert final.stop_reason and "routing service misconfigured" in final.stop_reason
    by_id = {s.shipment_id: s for s in final.shipments}
    assert by_id[kept.shipment_id].status == ShipmentStatus.CANCELLED
    assert by_id[rejected.shipment_id].status == ShipmentStatus.REJECTED
    assert any(
        e.kind == "node-cancelled" and e.shipment_id == kept.shipment_id for e in final.timeline
    )
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    assert rows and all(r["status"] == "released" for r in rows)
    for sku, reserved in before.items():
        assert (await ledger.atp_view(sqlite_engine, sku)).total_reserved == reserved
