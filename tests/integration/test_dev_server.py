"""The whole backbone on the real Temporal dev server with real activities, on SQLite and on
PostgreSQL: submit through DomClient, drive shipments with events, and find the order by its
search attributes the way ops do in the Temporal UI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger
from dom_workflows.config import Settings
from dom_workflows.network import Network
from dom_workflows.order.models import OrderStatus, ShipmentEvent
from tests.support.harness import make_order
from tests.support.until import until
from workers.client import CancelRefused, DomClient
from workers.worker import build_worker, dependencies

pytestmark = pytest.mark.devserver


@pytest_asyncio.fixture
async def dom(
    dev_env: WorkflowEnvironment, ledger_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[DomClient]:
    async with dependencies(Settings(), engine=ledger_engine, network=network) as deps:
        async with build_worker(dev_env.client, task_queue, deps):
            yield DomClient(dev_env.client, task_queue)


async def test_order_lifecycle_on_the_dev_server(
    dom: DomClient, ledger_engine: AsyncEngine
) -> None:
    order = make_order([("BOOT-HIKE-9", 1), ("TEE-MERINO-M", 2)], tier="vip")
    _, on_hand_before = await _totals(ledger_engine, "TEE-MERINO-M")
    first = await dom.submit(order)
    again = await dom.submit(order)
    assert first.created and not again.created
    assert again.workflow_id == first.workflow_id == f"order-{order.order_id}"

    async def instructed():  # type: ignore[no-untyped-def]
        s = await dom.status(order.order_id)
        n = sum(1 for e in s.timeline if e.kind == "instructed")
        return s if s.shipments and n == len(s.shipments) else None

    state = await until(instructed, bool, "shipments instructed", within=10)
    for sh in state.shipments:
        for kind in ("accepted", "shipped", "delivered"):
            await dom.send_shipment_event(
                order.order_id,
                ShipmentEvent(
                    event_id=f"{sh.shipment_id}:{kind}",
                    shipment_id=sh.shipment_id,
                    type=kind,  # type: ignore[arg-type]
                    carrier="UPS",
                    tracking="1Z999",
                ),
            )
    await dom.result(order.order_id)
    final = await dom.status(order.order_id)
    assert final.status == OrderStatus.COMPLETED
    assert (await _totals(ledger_engine, "TEE-MERINO-M"))[1] == on_hand_before - 2
    with pytest.raises(CancelRefused):
        await dom.cancel(order.order_id)

    nodes = sorted({s.node for s in final.shipments})
    query = (
        f"WorkflowId = 'order-{order.order_id}' AND OrderStatus = 'completed' "
        f"AND CustomerTier = 'vip' AND SalesChannel = 'web' AND FulfillmentNodes = '{nodes[0]}'"
    )

    async def listed():  # type: ignore[no-untyped-def]
        return [wf async for wf in dom.client.list_workflows(query)]

    [wf] = await until(listed, bool, "the order in visibility with its search attributes")
    assert wf.search_attributes["OrderValue"] == [float(order.value().amount)]
    assert wf.search_attributes["Backordered"] == [False]
    desc = await dom.handle(order.order_id).describe()
    assert (await desc.static_summary() or "").startswith(f"Order {order.order_id}")


async def _totals(engine: AsyncEngine, sku: str) -> tuple[int, int]:
    view = await ledger.atp_view(engine, sku)
    return view.total_reserved, view.total_on_hand
