"""Order behaviours that used to be deletable with the suite green: the saga when Temporal
cancels the workflow, the ship-SLA breach, a node that cannot be reached, and the escalation of
a shipment that leaves after the DOM cancelled it. Each test names the behaviour it pins and
checks its effects where they land: the simulator (the node, the payment provider), the ledger,
the query and the Escalated search attribute."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.inventory import ledger
from dom_workflows.common import errors
from dom_workflows.common.retry import NODE_GIVE_UP
from dom_workflows.config import Settings
from dom_workflows.fulfillment.models import FulfillmentRequest
from dom_workflows.network import Network
from dom_workflows.order import search_attributes as attrs
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    OrderState,
    OrderStatus,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.harness import OrderHarness, make_order, order_harness, replace_activity
from tests.support.sim import LiveSim
from tests.support.until import until
from workers.worker import WORKFLOWS, client_activities, dependencies


def kinds_of(state: OrderState, shipment_id: str | None = None) -> list[str]:
    return [e.kind for e in state.timeline if shipment_id is None or e.shipment_id == shipment_id]


async def escalated(handle: WorkflowHandle[Any, Any]) -> bool | None:
    desc = await handle.describe()
    return desc.typed_search_attributes.get(attrs.ESCALATED)


async def reservations(h: OrderHarness, order_id: str) -> dict[str, str]:
    return {r["shipment_id"]: r["status"] for r in await ledger.reservations_of(h.engine, order_id)}


# ----------------------------------------------------------------- (a) cancelled from Temporal
async def test_cancelling_the_workflow_from_temporal_compensates_at_node_ledger_and_payment(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(partner_sim_url=live_sim.url, payment_url=f"{live_sim.url}/payments")
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        reserved0 = (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved
        order = make_order([("BOOT-HIKE-9", 2)])
        handle = await h.start(order)
        state = await h.instructed(handle)
        [sh] = state.shipments
        await h.event(handle, sh.shipment_id, "accepted")
        await h.until(handle, lambda s: s.shipments[0].status == ShipmentStatus.ACCEPTED, "accept")
        assert state.payment is not None and state.payment.authorization_id is not None
        auth_id = state.payment.authorization_id
        assert live_sim.sim.fulfilments.jobs[sh.shipment_id].status != "cancelled"
        assert (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved == reserved0 + 2

        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
        assert isinstance(err.value.cause, CancelledError)
        final = await h.state(handle)

    reason = "the workflow was cancelled from Temporal"
    assert (final.status, final.stop_reason) == (OrderStatus.CANCELLED, reason)
    assert [(s.status, s.reason) for s in final.shipments] == [(ShipmentStatus.CANCELLED, reason)]
    # At the node: the open request was cancelled, once.
    subjects = live_sim.effects()["by_subject"]
    assert subjects.get(f"node-cancel:{sh.shipment_id}") == 1
    assert live_sim.sim.fulfilments.jobs[sh.shipment_id].status == "cancelled"
    # In the ledger: the workflow released the units itself (close_order found nothing left,
    # else it would have escalated).
    assert (await ledger.atp_view(sqlite_engine, "BOOT-HIKE-9")).total_reserved == reserved0
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    assert [r["status"] for r in rows] == ["released"]
    assert final.escalations == []
    # At the payment provider: the authorization was voided, nothing captured.
    assert subjects.get(f"void:{auth_id}") == 1
    assert not any(s.startswith("capture:") for s in subjects)
    assert live_sim.sim.payments.auths[auth_id].status == "voided"
    assert final.payment is not None and final.payment.status == "voided"
    assert final.payment.released.amount == final.payment.authorized.amount
    kinds = kinds_of(final)
    assert [kinds.count(k) for k in ("node-cancelled", "released", "payment-released")] == [1] * 3
    assert kinds[-1] == "cancelled"
    assert live_sim.effects()["duplicates"] == []


# ----------------------------------------------------------------- (b) ship-SLA breach
async def test_accepted_but_not_shipped_in_time_is_cancelled_released_rerouted_and_escalated(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        order = make_order([("TEE-MERINO-M", 1)])
        handle = await h.start(order)
        [first] = (await h.instructed(handle)).shipments
        await h.event(handle, first.shipment_id, "accepted")
        await h.until(handle, lambda s: s.shipments[0].status == ShipmentStatus.ACCEPTED, "accept")
        assert await escalated(handle) is False

        # Workflow time passes the ship SLA (the accept SLA was met); nothing ships.
        await time_env.sleep(first.sla.ship_within + timedelta(seconds=1))
        state = await h.instructed(handle, 2)
        assert await escalated(handle) is True

    old, new = state.shipments
    breach = f"SLA breach at {first.node}: not shipped within {first.sla.ship_within} of acceptance"
    assert (old.shipment_id, old.status, old.reason) == (
        first.shipment_id,
        ShipmentStatus.TIMED_OUT,
        breach,
    )
    assert state.escalations == [breach]
    # Cancelled at the node, released, re-routed elsewhere (never back to that node).
    assert live_sim.effects()["by_subject"].get(f"node-cancel:{first.shipment_id}") == 1
    assert live_sim.sim.fulfilments.jobs[first.shipment_id].status == "cancelled"
    assert [
        k for k in kinds_of(state, first.shipment_id) if k in ("node-cancelled", "released")
    ] == [
        "node-cancelled",
        "released",
    ]
    assert new.node != first.node and new.status == ShipmentStatus.REQUESTED
    assert new.route_attempt == 2 and len(state.routes) == 2
    assert await reservations(h, order.order_id) == {
        first.shipment_id: "released",
        new.shipment_id: "reserved",
    }
    assert state.lines[0].allocated == 1


# ----------------------------------------------------------------- (d) unreachable node
@contextlib.asynccontextmanager
async def instruct_fails_for_the_first_node(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    error: ApplicationError,
) -> AsyncIterator[tuple[OrderHarness, list[str]]]:
    """A worker whose instruct_node raises `error` for every request to the first node it is
    asked about, and works for every other node. Yields the harness and the nodes tried."""
    async with dependencies(Settings(), engine=sqlite_engine, network=network) as deps:
        [real] = [
            a
            for a in deps.activities()
            if getattr(a, "__temporal_activity_definition").name == "instruct_node"
        ]
        tried: list[str] = []

        @activity.defn(name="instruct_node")
        async def flaky_instruct(req: FulfillmentRequest) -> Any:
            tried.append(req.node)
            if req.node == tried[0]:
                raise error
            return await real(req)

        activities = replace_activity(deps, "instruct_node", flaky_instruct)
        activities += client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            yield OrderHarness(time_env.client, task_queue, sqlite_engine, time_env), tried


async def assert_moved_off_the_unreachable_node(
    h: OrderHarness, order_id: str, state: OrderState, tried: list[str], cause: str
) -> None:
    dead, live = state.shipments
    assert dead.node == tried[0] and live.node != dead.node
    assert dead.status == ShipmentStatus.REJECTED
    assert dead.reason is not None
    assert dead.reason.startswith("node could not take the request:") and cause in dead.reason
    assert kinds_of(state, dead.shipment_id) == ["rejected", "released"]
    assert kinds_of(state, live.shipment_id) == ["instructed"]
    assert len(state.routes) == 2 and live.route_attempt == 2
    assert await reservations(h, order_id) == {
        dead.shipment_id: "released",
        live.shipment_id: "reserved",
    }


async def test_a_node_that_refuses_the_request_outright_is_released_and_rerouted(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    refusal = ApplicationError("node closed", type=errors.NODE_REFUSED, non_retryable=True)
    async with instruct_fails_for_the_first_node(
        time_env, sqlite_engine, network, task_queue, refusal
    ) as (h, tried):
        order = make_order([("TEE-MERINO-M", 1)])
        handle = await h.start(order)
        state = await h.until(
            handle, lambda s: kinds_of(s).count("instructed") == 1, "instructed elsewhere"
        )
        await assert_moved_off_the_unreachable_node(h, order.order_id, state, tried, "node closed")
        assert tried.count(tried[0]) == 1  # non-retryable: asked once


async def test_a_node_unreachable_beyond_the_give_up_is_released_and_rerouted(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    down = ApplicationError("connection refused", type="NodeUnavailable")  # retryable
    async with instruct_fails_for_the_first_node(
        time_env, sqlite_engine, network, task_queue, down
    ) as (h, tried):
        order = make_order([("TEE-MERINO-M", 1)])
        handle = await h.start(order)
        await h.until(handle, lambda s: len(s.shipments) == 1, "routed")
        assert kinds_of(await h.state(handle)).count("instructed") == 0
        await time_env.sleep(NODE_GIVE_UP + timedelta(minutes=1))  # retries until the give-up
        state = await h.until(
            handle, lambda s: kinds_of(s).count("instructed") == 1, "instructed elsewhere"
        )
        await assert_moved_off_the_unreachable_node(h, order.order_id, state, tried, "")
        assert tried.count(tried[0]) > 1  # retried, then given up


async def test_undoing_an_order_stops_retrying_a_node_that_cannot_be_reached(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    """The saga does not wait out the node's give-up: the request's retries stop at once."""
    down = ApplicationError("connection refused", type="NodeUnavailable")  # retryable
    async with instruct_fails_for_the_first_node(
        time_env, sqlite_engine, network, task_queue, down
    ) as (h, tried):
        order = make_order([("TEE-MERINO-M", 1)])
        handle = await h.start(order)
        await until(lambda: asyncio.sleep(0, len(tried)), lambda n: n >= 2, "two tries")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
        assert isinstance(err.value.cause, CancelledError)
        tries = len(tried)
        state = await h.state(handle)
    assert state.status == OrderStatus.CANCELLED
    assert tries <= 4  # not the dozen-odd tries of the 30-minute give-up
    assert await ledger.reservations_of(sqlite_engine, order.order_id) != []  # it had reserved
    assert all(
        r["status"] == "released"
        for r in await ledger.reservations_of(sqlite_engine, order.order_id)
    )


# ----------------------------------------------------------------- (e) shipped after cancel
async def test_a_shipment_reported_shipped_after_it_was_cancelled_is_escalated(
    harness: OrderHarness,
) -> None:
    # Two shipments (a dropship board and a boot): cancelling the boot leaves the order open.
    order = make_order([("SUP-BOARD", 1), ("BOOT-HIKE-9", 1)], zip_code="97217")
    handle = await harness.start(order)
    state = await harness.instructed(handle, 2)
    [gone] = [s for s in state.shipments if [sl.sku for sl in s.lines] == ["BOOT-HIKE-9"]]
    await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id=gone.lines[0].line_id)])
    )
    state = await harness.state(handle)
    assert state.escalations == [] and await escalated(handle) is False

    await harness.event(handle, gone.shipment_id, "shipped", carrier="UPS", tracking="1Z-LATE")
    state = await harness.until(handle, lambda s: bool(s.escalations), "the escalation")
    [message] = state.escalations
    assert message.startswith(
        f"{gone.node} reports {gone.shipment_id} shipped after it was cancelled: 1 unit left"
    )
    assert "not charged" in message and "recover the parcel or charge the customer" in message
    assert [e.message for e in state.timeline if e.kind == "escalated"] == [message]
    assert await escalated(handle) is True
    # The cancelled shipment stays cancelled; the late event is not counted as shipped.
    [after] = [s for s in state.shipments if s.shipment_id == gone.shipment_id]
    assert after.status == ShipmentStatus.CANCELLED
    assert kinds_of(state, gone.shipment_id).count("shipped") == 0
    await handle.cancel()
