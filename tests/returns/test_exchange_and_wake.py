"""The exchange's replacement order is a child OrderWorkflow of the RMA (started by type name,
with the order's search attributes and idempotent id), and restocks wake the SKU's waiting list
through the worker's own client, by workflow id and signal name."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.returns.activities import ReturnClientActivities
from dom_workflows.backorder.models import StockArrival, waitlist_workflow_id
from dom_workflows.money import Money
from dom_workflows.order import search_attributes as attrs
from dom_workflows.order.models import OrderStatus
from dom_workflows.returns import logic
from dom_workflows.returns.models import (
    ExchangeLine,
    ReceivedUnits,
    ReturnLineRequest,
    ReturnLineState,
    ReturnReceipt,
    ReturnRequest,
    ReturnState,
    ReturnStatus,
    WakeBackorders,
    return_workflow_id,
)
from tests.support.harness import make_order
from tests.support.returns import Returns
from tests.support.sim import LiveSim


def exchange(line_id: str = "1", *swap: ExchangeLine) -> ReturnRequest:
    return ReturnRequest(
        lines=[ReturnLineRequest(line_id=line_id, qty=1, reason="wrong size")],
        exchange=True,
        exchange_lines=list(swap) or None,
    )


def refurbish(rma_id: str) -> ReturnReceipt:
    return ReturnReceipt(
        event_id=f"{rma_id}:rcv",
        rma_id=rma_id,
        lines=[ReceivedUnits(line_id="1", qty=1, grade="refurbish")],
    )


def test_replacement_order_is_zero_value_for_the_same_customer_and_address() -> None:
    original = make_order([("BOOT-HIKE-9", 2)], order_id="ORIG-1")
    order = logic.replacement_order(
        original,
        order_id="ORIG-1-X1",
        rma_id="RMA-ORIG-1-1",
        currency="USD",
        lines=[ExchangeLine(sku="BOOT-HIKE-10", qty=2)],
    )
    assert order.order_id == "ORIG-1-X1"
    assert [(ln.line_id, ln.sku, ln.qty, ln.unit_price.amount) for ln in order.lines] == [
        ("1", "BOOT-HIKE-10", 2, Decimal("0.00"))
    ]
    assert order.value().amount == 0 and order.payment_token is None
    assert order.customer == original.customer and order.ship_to == original.ship_to
    assert order.tags[-2:] == ["exchange", "rma:RMA-ORIG-1-1"]
    assert original.order_id == "ORIG-1"  # the original is not changed


async def test_exchange_order_is_a_child_with_the_order_search_attributes(
    returns: Returns, live_sim: LiveSim
) -> None:
    order = make_order([("BOOT-HIKE-9", 1)])
    await returns.deliver(order)
    rma = (
        await returns.dom.create_return(
            order.order_id, exchange("1", ExchangeLine(sku="BOOT-HIKE-10", qty=1))
        )
    ).rma_id
    await returns.dom.report_return_received(rma, refurbish(rma))
    result = await returns.result(rma)
    assert result.status == ReturnStatus.EXCHANGED
    assert result.exchange_order_id == f"{order.order_id}-X1"

    desc = await returns.dom.handle(result.exchange_order_id).describe()
    assert desc.workflow_type == "OrderWorkflow"
    assert desc.id == f"order-{order.order_id}-X1"
    assert desc.parent_id == return_workflow_id(rma)
    sa = desc.typed_search_attributes
    assert sa.get(attrs.SALES_CHANNEL) == order.channel
    assert sa.get(attrs.CUSTOMER_ID) == order.customer.id
    assert sa.get(attrs.CUSTOMER_TIER) == order.customer.tier
    assert sa.get(attrs.ORDER_VALUE) == 0.0
    assert rma in (await desc.static_summary() or "")
    # ABANDON: the replacement order carries on after its RMA completed.
    state = await returns.dom.status(result.exchange_order_id)
    assert state.status not in (OrderStatus.CANCELLED, OrderStatus.FAILED)
    assert await returns.dom.is_running(result.exchange_order_id)


async def test_an_exchange_whose_order_id_is_taken_still_ends_exchanged(
    returns: Returns, live_sim: LiveSim
) -> None:
    """`<order>-X1` already exists (the RMA was reset after starting it, or it was submitted by
    hand): WorkflowAlreadyStartedError does not fail the RMA and nothing is started twice."""
    order = make_order([("BOOT-HIKE-9", 1)])
    await returns.deliver(order)
    taken = make_order([("BOOT-HIKE-9", 1)], order_id=f"{order.order_id}-X1")
    first = await returns.dom.submit(taken)
    assert first.created
    rma = (await returns.dom.create_return(order.order_id, exchange())).rma_id
    await returns.dom.report_return_received(rma, refurbish(rma))
    result = await returns.result(rma)
    assert result.status == ReturnStatus.EXCHANGED
    assert result.exchange_order_id == taken.order_id
    final = await returns.dom.return_status(rma)
    assert any("already exists" in e.message for e in final.timeline)
    desc = await returns.dom.handle(taken.order_id).describe()
    assert desc.run_id == first.run_id and desc.parent_id is None  # the one submitted by hand


# ----------------------------------------------------------------- wake_backorders
@workflow.defn(name="SkuWaitlistWorkflow", sandboxed=False)  # a test double
class FakeWaitlist:
    def __init__(self) -> None:
        self.arrivals: list[StockArrival] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def stock_arrived(self, arrival: StockArrival) -> None:
        self.arrivals.append(arrival)

    @workflow.query
    def seen(self) -> list[StockArrival]:
        return self.arrivals


async def test_wake_backorders_signals_the_skus_waiting_list_by_name(
    time_env: WorkflowEnvironment,
) -> None:
    client: Client = time_env.client
    queue = f"wake-{uuid.uuid4()}"
    acts = ReturnClientActivities(client)
    wake = WakeBackorders(sku="WAKE-SKU", node="wh-columbus", qty=2, reference="RMA-1:1")
    env = ActivityEnvironment()

    assert await env.run(acts.wake_backorders, wake) is False  # nobody waits: no error

    async with Worker(client, task_queue=queue, workflows=[FakeWaitlist]):
        handle = await client.start_workflow(
            FakeWaitlist.run, id=waitlist_workflow_id("WAKE-SKU"), task_queue=queue
        )
        assert await env.run(acts.wake_backorders, wake) is True
        for _ in range(100):
            seen = await handle.query(FakeWaitlist.seen)
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == [StockArrival(node="wh-columbus", qty=2, reference="RMA-1:1")]
        await handle.terminate()


def test_return_details_show_lines_as_an_aligned_block_not_a_pipe_table() -> None:
    """The Temporal UI draws pipe tables without padding ("qtyreceived..."): the lines go in a
    fenced block whose columns line up."""
    st = ReturnState(
        rma_id="RMA-1",
        order_id="o-1",
        workflow_id="return-RMA-1",
        status=ReturnStatus.RECEIVED,
        requested_by="ops",
        exchange=False,
        lines=[
            ReturnLineState(
                line_id="1",
                sku="FLEECE-M",
                qty=2,
                unit_price=Money(amount=Decimal("79.00"), currency="USD"),
                received=2,
            )
        ],
    )
    md = logic.details_markdown(st)
    block = md.split("```")[1].strip("\n").splitlines()
    assert "|" not in md
    assert block[0].split() == [
        "line",
        "sku",
        "qty",
        "received",
        "resell/refurbish/scrap",
        "restocked",
    ]
    assert block[1].split() == ["1", "FLEECE-M", "2", "2", "0/0/0", "0"]
    assert block[0].index("qty") + len("qty") == block[1].index(" 2 ") + 2  # numbers to the right
