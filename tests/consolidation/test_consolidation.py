"""Consolidation: a customer's orders to one address that ship from one node within the
window leave as one parcel (one group, one tracking number at the node)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from dom_workflows.order.models import OrderRequest
from tests.support.harness import OrderHarness, make_order, order_harness

WINDOW = timedelta(minutes=30)


@pytest_asyncio.fixture
async def h(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    policy = network.order_policy.model_copy(update={"consolidation_window": WINDOW})
    net = network.model_copy(update={"order_policy": policy})
    async with order_harness(time_env, sqlite_engine, net, task_queue) as harness:
        yield harness


def same_customer(order_id: str, line1: str = "350 5th Ave") -> OrderRequest:
    order = make_order([("BOOT-HIKE-9", 1)], order_id=order_id)
    assert order.ship_to is not None
    return order.model_copy(
        update={
            "customer": order.customer.model_copy(update={"id": "C-CONSOL"}),
            "ship_to": order.ship_to.model_copy(update={"line1": line1}),
        }
    )


async def test_orders_within_the_window_leave_one_node_as_one_parcel(h: OrderHarness) -> None:
    first = await h.start(same_customer("CONSOL-1"))
    second = await h.start(same_customer("CONSOL-2", line1=" 350  5TH AVE, "))  # same address
    for handle in (first, second):
        await h.until(handle, lambda s: any(e.kind == "routed" for e in s.timeline), "routed")
    s1, s2 = await h.state(first), await h.state(second)
    assert not any(e.kind == "instructed" for e in s1.timeline)  # waiting for the window
    await h.env.sleep(WINDOW + timedelta(seconds=1))
    s1, s2 = await h.instructed(first), await h.instructed(second)
    g1, g2 = s1.shipments[0].consolidation_group, s2.shipments[0].consolidation_group
    assert s1.shipments[0].node == s2.shipments[0].node
    assert g1 is not None and g1 == g2
    assert any(e.kind == "consolidated" and "CONSOL-2" in e.message for e in s1.timeline)

    third = await h.start(same_customer("CONSOL-3"))  # after the window: a new group
    await h.until(third, lambda s: any(e.kind == "routed" for e in s.timeline), "routed")
    await h.env.sleep(WINDOW + timedelta(seconds=1))
    s3 = await h.instructed(third)
    assert s3.shipments[0].consolidation_group not in (None, g1)
