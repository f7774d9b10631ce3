"""Partner events that race the order's own record of a shipment (issue 13, "A rejection was
lost"): a node that answers before the order has recorded the shipment it answers about must
not have its answer dropped, and an order never completes while it still holds units reserved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.inventory import schema
from dom_workflows.config import Settings
from dom_workflows.network import Network
from dom_workflows.order import names
from dom_workflows.order.models import (
    OrderRequest,
    OrderStatus,
    ShipmentEvent,
    ShipmentStatus,
    order_workflow_id,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.harness import OrderHarness, make_order, order_harness
from tests.support.sim import LiveSim
from tests.support.until import until

SKU = "TENT-4P"


@pytest_asyncio.fixture
async def harness(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    async with order_harness(time_env, sqlite_engine, network, task_queue) as h:
        yield h


async def first_node(h: OrderHarness) -> str:
    """Where the router sends one unit of SKU to the default ship-to (a probe order)."""
    probe = await h.start(make_order([(SKU, 1)]))
    st = await h.instructed(probe)
    return st.shipments[0].node


async def start_with_event(
    h: OrderHarness, order: OrderRequest, ev: ShipmentEvent
) -> WorkflowHandle[Any, Any]:
    """The order's first workflow task sees the partner's event before it has routed: the
    exact step where a node answered (at once) before the order recorded the shipment."""
    return await h.client.start_workflow(
        OrderWorkflow.run,
        order,
        id=order_workflow_id(order.order_id),
        task_queue=h.task_queue,
        start_signal=names.SHIPMENT_EVENT,
        start_signal_args=[ev],
    )


async def reserved_for(engine: AsyncEngine, shipment_id: str) -> int:
    res = schema.reservations
    async with engine.connect() as conn:
        value = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(res.c.qty), 0)).where(
                res.c.shipment_id == shipment_id, res.c.status == "reserved"
            )
        )
    return int(value or 0)


async def test_a_rejection_that_arrives_before_the_shipment_is_recorded_re_routes_it(
    harness: OrderHarness,
) -> None:
    h = harness
    node = await first_node(h)
    order = make_order([(SKU, 2)])
    first = f"{order.order_id}:1:{node}"
    handle = await start_with_event(
        h,
        order,
        ShipmentEvent(event_id="early-reject", shipment_id=first, type="rejected", reason="no"),
    )
    st = await h.until(
        handle,
        lambda s: len(s.shipments) >= 2,
        "the early rejection applied and the units re-routed",
    )
    rejected = next(s for s in st.shipments if s.shipment_id == first)
    assert rejected.status == ShipmentStatus.REJECTED
    assert rejected.reason == "no"
    assert any(first in r for r in st.rejections)
    assert st.shipments[1].node != node  # the node that refused gets none of it again
    assert st.shipments[1].status == ShipmentStatus.REQUESTED
    assert await reserved_for(h.engine, first) == 0  # its units went back
    # The node refused before it was asked: it is not asked afterwards either.
    assert not any(e.kind == "instructed" and e.shipment_id == first for e in st.timeline)


async def test_an_early_acceptance_is_kept_and_the_shipment_followed_to_delivery(
    harness: OrderHarness,
) -> None:
    h = harness
    node = await first_node(h)
    order = make_order([(SKU, 1)])
    sid = f"{order.order_id}:1:{node}"
    handle = await start_with_event(
        h, order, ShipmentEvent(event_id="early-accept", shipment_id=sid, type="accepted")
    )
    st = await h.until(
        handle,
        lambda s: bool(s.shipments) and s.shipments[0].status == ShipmentStatus.ACCEPTED,
        "the early acceptance applied",
    )
    assert st.shipments[0].shipment_id == sid
    await h.event(handle, sid, "shipped", carrier="ups", tracking="1Z")
    await h.event(handle, sid, "delivered")
    await handle.result()
    st = await h.state(handle)
    assert st.status == OrderStatus.COMPLETED
    assert st.shipments[0].status == ShipmentStatus.DELIVERED


async def test_an_event_for_another_orders_shipment_is_ignored(harness: OrderHarness) -> None:
    h = harness
    order = make_order([(SKU, 1)])
    handle = await start_with_event(
        h,
        order,
        ShipmentEvent(event_id="stray", shipment_id="OTHER-1:1:wh-x", type="rejected"),
    )
    st = await h.instructed(handle)
    assert st.shipments[0].status == ShipmentStatus.REQUESTED
    assert any(e.kind == "ignored" and "OTHER-1:1:wh-x" in e.message for e in st.timeline)


async def test_a_rejection_whose_event_was_lost_is_learned_at_the_accept_sla(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    """The node rejected the request and its event never arrived (order ...-0010). At the
    accept SLA the order asks the node to cancel; the node answers that it rejected the request:
    nothing is left to cancel, so its units are released and re-routed instead of staying
    reserved while the order waits for a node that said no."""
    live_sim.configure(accept_delay=0.0, jitter=0.0, reject_rate=1.0)  # events go nowhere
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        handle = await h.start(make_order([(SKU, 2)]))
        st = await h.instructed(handle)
        first = st.shipments[0]
        await until(
            lambda: _node_status(live_sim, first.shipment_id),
            lambda status: status == "rejected",
            "the node to reject the request",
        )
        live_sim.configure(reject_rate=0.0)
        await time_env.sleep(first.sla.accept_within + timedelta(minutes=5))
        st = await h.until(handle, lambda s: len(s.shipments) >= 2, "a re-route")
        was = next(s for s in st.shipments if s.shipment_id == first.shipment_id)
        assert not was.status.is_open
        assert await reserved_for(h.engine, first.shipment_id) == 0
        assert st.shipments[1].node != first.node


async def _node_status(sim: LiveSim, shipment_id: str) -> str | None:
    job = sim.sim.fulfilments.jobs.get(shipment_id)
    return job.status if job else None
