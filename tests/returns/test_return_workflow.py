"""ReturnWorkflow on the time-skipping server with real activities, a real SQLite ledger and the
partner simulator as payment provider and carrier: every effect checked against the ledger and
the simulator's request log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger, schema
from activities.returns import store
from dom_workflows.backorder.models import waitlist_workflow_id
from dom_workflows.backorder.workflows import SkuWaitlistWorkflow
from dom_workflows.money import Money
from dom_workflows.network import Network, SkuConfig
from dom_workflows.order.models import OrderRequest
from dom_workflows.returns.models import (
    ExchangeLine,
    ReceivedUnits,
    ReturnLineRequest,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
)
from tests.support.harness import make_order, order_harness
from tests.support.returns import Returns, partner_settings
from tests.support.sim import LiveSim
from tests.support.until import until
from workers.client import DomClient, ReturnClosed, ReturnNotFound, ReturnRefused

RETURN_NODE = "wh-columbus"  # examples/network.json: order_policy.return_node


def request(*lines: tuple[str, int], **kw: object) -> ReturnRequest:
    return ReturnRequest(
        lines=[ReturnLineRequest(line_id=lid, qty=q, reason="too small") for lid, q in lines],
        **kw,  # type: ignore[arg-type]
    )


def receipt(rma_id: str, *lines: tuple[str, int, str], event_id: str = "rcv-1") -> ReturnReceipt:
    return ReturnReceipt(
        event_id=event_id,
        rma_id=rma_id,
        lines=[ReceivedUnits(line_id=lid, qty=q, grade=g) for lid, q, g in lines],  # type: ignore[arg-type]
    )


async def test_delivered_order_is_returned_graded_restocked_and_refunded_once(
    returns: Returns, live_sim: LiveSim
) -> None:
    order = make_order([("BOOT-HIKE-9", 3)])  # 3 x 50.00
    delivered = await returns.deliver(order)
    [sh] = delivered.shipments
    assert sh.capture_id and sh.captured and sh.captured.amount == Decimal("150.00")
    on_hand_before, _ = await returns.position(RETURN_NODE, "BOOT-HIKE-9")

    created = await returns.dom.create_return(order.order_id, request(("1", 2)))
    rma = created.rma_id
    assert rma == f"RMA-{order.order_id}-1" and created.workflow_id == f"return-{rma}"
    assert created.state.status == ReturnStatus.OPEN and created.state.return_node == RETURN_NODE
    state = await returns.until(rma, lambda s: s.label is not None, "a return label")
    assert state.label and state.label.tracking
    assert state.deadline is not None and sh.delivered_at is not None
    assert state.deadline == sh.delivered_at + timedelta(days=30)

    # One unit resellable, one scrapped; the node reports it twice (redelivery).
    rcv = receipt(rma, ("1", 1, "resell"), ("1", 1, "scrap"))
    await returns.dom.report_return_received(rma, rcv)
    await returns.dom.report_return_received(rma, rcv)
    result = await returns.result(rma)
    assert result.status == ReturnStatus.REFUNDED
    assert result.refunded.amount == Decimal("100.00")  # the 2 returned units, not the 3rd

    final = await returns.dom.return_status(rma)
    [line] = final.lines
    assert (line.received, line.resell, line.scrap, line.restocked) == (2, 1, 1, 1)
    assert [(r.capture_id, r.amount.amount, r.seq) for r in final.refunds] == [
        (sh.capture_id, Decimal("100.00"), 1001)
    ]
    assert not final.escalations
    # Ledger: the resellable unit is back on hand at the return node, as a restock movement.
    on_hand_after, _ = await returns.position(RETURN_NODE, "BOOT-HIKE-9")
    assert on_hand_after == on_hand_before + 1
    [mv] = await returns.movements(f"{rma}:1")
    assert (mv.kind, mv.node_id, mv.on_hand_delta) == ("restock", RETURN_NODE, 1)
    rows = await store.lines_of(returns.engine, rma)
    assert [(r["status"], r["received_qty"], r["resell"], r["scrap"]) for r in rows] == [
        ("received", 2, 1, 1)
    ]
    # Simulator: one return label, one refund of exactly that capture, nothing twice.
    effects = live_sim.effects()
    assert effects["by_subject"].get(f"label:{rma}:return") == 1
    assert effects["by_subject"].get(f"refund:{order.order_id}:1001") == 1
    assert sum(1 for s in effects["by_subject"] if s.startswith("refund:")) == 1
    assert live_sim.sim.payments.captures[sh.capture_id].refunded.amount == Decimal("100.00")
    assert effects["duplicates"] == []
    # A second, different receipt after the RMA ended is refused, not applied.
    with pytest.raises(ReturnClosed):
        await returns.dom.report_return_received(
            rma, receipt(rma, ("1", 1, "resell"), event_id="x")
        )


async def test_rma_expires_when_the_window_closes_and_gives_nothing_back(
    returns: Returns, live_sim: LiveSim
) -> None:
    order = make_order([("BOOT-HIKE-9", 1)])
    await returns.deliver(order)
    rma = (await returns.dom.create_return(order.order_id, request(("1", 1)))).rma_id
    state = await returns.until(rma, lambda s: s.label is not None, "a return label")
    assert state.label is not None
    on_hand_before = await returns.position(RETURN_NODE, "BOOT-HIKE-9")

    result = await returns.result(rma, skip=timedelta(days=31))  # weeks pass: nothing arrives
    assert result.status == ReturnStatus.EXPIRED and result.refunded is None
    final = await returns.dom.return_status(rma)
    assert final.label and final.label.voided  # compensation: the unused label is voided
    assert "return window closed" in (final.stop_reason or "")
    assert [r["status"] for r in await store.lines_of(returns.engine, rma)] == ["expired"]
    assert await returns.position(RETURN_NODE, "BOOT-HIKE-9") == on_hand_before
    effects = live_sim.effects()
    assert effects["by_subject"].get(f"void:{state.label.label_id}") == 1
    assert not any(s.startswith("refund:") for s in effects["by_subject"])
    assert effects["duplicates"] == []
    # The window has closed: a new RMA for the expired units is refused.
    with pytest.raises(ReturnRefused) as refused:
        await returns.dom.create_return(order.order_id, request(("1", 1)))
    assert refused.value.kind == "ReturnRefused" and "return window closed" in str(refused.value)
    with pytest.raises(ReturnClosed):
        await returns.dom.report_return_received(rma, receipt(rma, ("1", 1, "resell")))


async def test_over_return_and_invalid_requests_are_refused(returns: Returns) -> None:
    order = make_order([("BOOT-HIKE-9", 1), ("SOCK-WOOL-3PK", 1)])
    await returns.deliver(order)
    oid = order.order_id
    first = await returns.dom.create_return(oid, request(("1", 1)))
    assert first.rma_id == f"RMA-{oid}-1"
    with pytest.raises(ReturnRefused) as over:
        await returns.dom.create_return(oid, request(("1", 1)))
    assert over.value.kind == "ReturnRefused"
    assert "only 0 of the 1 delivered" in str(over.value)
    with pytest.raises(ReturnRefused) as unknown_line:
        await returns.dom.create_return(oid, request(("9", 1)))
    assert unknown_line.value.kind == "InvalidReturn" and "no line '9'" in str(unknown_line.value)
    with pytest.raises(ReturnRefused) as bad_sku:
        await returns.dom.create_return(
            oid, request(("2", 1), exchange=True, exchange_lines=[ExchangeLine(sku="NOPE", qty=1)])
        )
    assert bad_sku.value.kind == "InvalidReturn"
    with pytest.raises(ReturnRefused) as no_order:
        await returns.dom.create_return("NO-SUCH-ORDER", request(("1", 1)))
    assert no_order.value.kind == "UnknownOrder"
    # Refused RMAs failed, so their number is used by the next RMA that opens.
    second = await returns.dom.create_return(oid, request(("2", 1)))
    assert second.rma_id == f"RMA-{oid}-2"
    with pytest.raises(ReturnNotFound):
        await returns.dom.return_status(f"RMA-{oid}-3")


async def test_nothing_delivered_yet_is_refused(returns: Returns) -> None:
    order = make_order([("BOOT-HIKE-9", 1)])
    handle = await returns.h.start(order)
    await returns.h.instructed(handle)
    with pytest.raises(ReturnRefused) as refused:
        await returns.dom.create_return(order.order_id, request(("1", 1)))
    assert refused.value.kind == "ReturnRefused" and "delivered" in str(refused.value)
    await handle.cancel()


async def test_concurrent_rmas_take_distinct_numbers_and_never_over_return(
    returns: Returns,
) -> None:
    order = make_order([("BOOT-HIKE-9", 2)])
    await returns.deliver(order)

    async def attempt() -> str:
        try:
            return (await returns.dom.create_return(order.order_id, request(("1", 1)))).rma_id
        except ReturnRefused as e:
            return f"refused: {e}"

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    opened = [r for r in results if not r.startswith("refused")]
    # Exactly the 2 delivered units; numbers are distinct (not necessarily 1 and 2: a refused
    # attempt frees its number, but the concurrent ones have already taken the next).
    assert len(opened) == 2 and len(set(opened)) == 2, results
    assert all(r.startswith(f"RMA-{order.order_id}-") for r in opened)
    assert all("only 0 of the 2 delivered" in r for r in results if r.startswith("refused"))
    held = 0
    for n in range(1, 5):
        held += sum(
            r["qty"] for r in await store.lines_of(returns.engine, f"RMA-{order.order_id}-{n}")
        )
    assert held == 2


async def test_exchange_starts_a_zero_value_replacement_order(
    returns: Returns, live_sim: LiveSim
) -> None:
    order = make_order([("BOOT-HIKE-9", 1)])
    await returns.deliver(order)
    rma = (
        await returns.dom.create_return(
            order.order_id,
            request(
                ("1", 1), exchange=True, exchange_lines=[ExchangeLine(sku="BOOT-HIKE-10", qty=1)]
            ),
        )
    ).rma_id
    await returns.until(rma, lambda s: s.label is not None, "a return label")
    await returns.dom.report_return_received(rma, receipt(rma, ("1", 1, "refurbish")))
    result = await returns.result(rma)
    assert result.status == ReturnStatus.EXCHANGED
    assert result.exchange_order_id == f"{order.order_id}-X1" and result.refunded is None
    replacement = await returns.dom.status(result.exchange_order_id)
    assert [(ln.sku, ln.qty, ln.unit_price.amount) for ln in replacement.lines] == [
        ("BOOT-HIKE-10", 1, Decimal("0.00"))
    ]
    assert replacement.customer_id == order.customer.id
    assert replacement.payment is None  # nothing to charge
    # Refurbish: not restocked; nothing refunded.
    assert await returns.movements(f"{rma}:1") == []
    assert not any(s.startswith("refund:") for s in live_sim.effects()["by_subject"])


async def test_without_a_payment_provider_the_refund_is_escalated_for_a_person(
    returns_without_partners: Returns,
) -> None:
    r = returns_without_partners
    order = make_order([("BOOT-HIKE-9", 1)])
    await r.deliver(order)
    rma = (await r.dom.create_return(order.order_id, request(("1", 1)))).rma_id
    await r.dom.report_return_received(rma, receipt(rma, ("1", 1, "resell")))
    result = await r.result(rma)
    assert result.status == ReturnStatus.REFUND_MANUAL
    assert result.manual_refund.amount == Decimal("50.00")
    final = await r.dom.return_status(rma)
    assert final.label is None and any("refunded manually" in e for e in final.escalations)
    assert [m.kind for m in await r.movements(f"{rma}:1")] == ["restock"]


def discounted(order: OrderRequest, **update: object) -> OrderRequest:
    """Each line (n x 50.00) with 10.00 off and 5.40 tax: for 2 units 95.40, 47.70 a unit."""
    lines = [
        ln.model_copy(update={"discount": usd("10.00"), "tax": usd("5.40")}) for ln in order.lines
    ]
    return order.model_copy(update={"lines": lines, **update})


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


async def test_a_return_refunds_the_line_net_price_tax_included(
    returns: Returns, live_sim: LiveSim
) -> None:
    order = discounted(make_order([("BOOT-HIKE-9", 2)]))
    [sh] = (await returns.deliver(order)).shipments
    assert sh.captured == usd("95.40")
    rma = (await returns.dom.create_return(order.order_id, request(("1", 1)))).rma_id
    await returns.dom.report_return_received(rma, receipt(rma, ("1", 1, "resell")))
    result = await returns.result(rma)
    assert result.status == ReturnStatus.REFUNDED and result.refunded == usd("47.70")
    assert live_sim.sim.payments.captures[sh.capture_id or ""].refunded == usd("47.70")


async def test_an_order_paid_at_the_channel_is_refunded_by_the_channel_not_the_provider(
    returns: Returns, live_sim: LiveSim
) -> None:
    order = discounted(
        make_order([("BOOT-HIKE-9", 2)]),
        channel="shopify",
        payment_mode="channel",
        paid=usd("105.40"),
    )
    delivered = await returns.deliver(order)
    assert delivered.payment is not None and delivered.payment.status == "paid_at_channel"
    rma = (await returns.dom.create_return(order.order_id, request(("1", 1)))).rma_id
    await returns.dom.report_return_received(rma, receipt(rma, ("1", 1, "resell")))
    result = await returns.result(rma)
    assert result.status == ReturnStatus.REFUND_AT_CHANNEL
    assert result.refunded is None and result.manual_refund is None
    final = await returns.dom.return_status(rma)
    [record] = final.refunds
    assert (record.status, record.amount, record.capture_id) == (
        "to_refund_at_channel",
        usd("47.70"),
        None,
    )
    assert [e.message for e in final.timeline if e.kind == "refund-at-channel"] == [
        "47.70 USD to be refunded by shopify"
    ]
    assert any("to be refunded at shopify" in e for e in final.escalations)
    assert [m.kind for m in await returns.movements(f"{rma}:1")] == ["restock"]
    # Nothing went to the payment provider: it never had the order's money.
    subjects = live_sim.effects()["by_subject"]
    assert not any(s.startswith(("refund:", "capture:", "authorize:")) for s in subjects)


# ----------------------------------------------------------------- restocks wake backorders
WAKE_SKU = "RETURNABLE-LAMP"  # one unit in the whole network, at the return node


@pytest_asyncio.fixture
async def one_unit_returns(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> AsyncIterator[Returns]:
    async with sqlite_engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=WAKE_SKU, name="Lamp", weight_lb=2.0, price=Decimal("50"), tags=[]
            )
        )
        await conn.execute(
            schema.inventory_positions.insert().values(
                node_id=RETURN_NODE,
                sku=WAKE_SKU,
                on_hand=1,
                reserved=0,
                safety_stock=0,
                updated_at=datetime.now(UTC),
            )
        )
    net = network.model_copy(
        update={
            "skus": [
                *network.skus,
                SkuConfig(sku=WAKE_SKU, name="Lamp", weight_lb=2.0, price=Decimal("50")),
            ]
        }
    )
    async with order_harness(
        time_env, sqlite_engine, net, task_queue, partner_settings(live_sim)
    ) as h:
        yield Returns(h, DomClient(h.client, task_queue), sqlite_engine)


async def test_a_restocked_return_wakes_an_order_backordered_on_that_sku(
    one_unit_returns: Returns,
) -> None:
    r = one_unit_returns
    first = make_order([(WAKE_SKU, 1)])
    await r.deliver(first)  # the only unit is gone
    assert await r.position(RETURN_NODE, WAKE_SKU) == (0, 0)

    waiting_order = await r.h.start(make_order([(WAKE_SKU, 1)]))
    state = await r.h.until(
        waiting_order,
        lambda s: s.lines[0].backordered == 1 and s.backorder_workflow_id is not None,
        "the second order backordered",
    )
    assert state.shipments == []
    waitlist = r.h.client.get_workflow_handle(waitlist_workflow_id(WAKE_SKU))

    async def queue() -> list[str]:
        return [w.workflow_id for w in await waitlist.query(SkuWaitlistWorkflow.waiting)]

    await until(queue, lambda q: q == [state.backorder_workflow_id], "the order on the list")

    # The first customer returns the unit; it is graded resellable and restocked.
    rma = (await r.dom.create_return(first.order_id, request(("1", 1)))).rma_id
    await r.dom.report_return_received(rma, receipt(rma, ("1", 1, "resell")))
    result = await r.result(rma)
    assert result.status == ReturnStatus.REFUNDED
    assert [ln.restocked for ln in (await r.dom.return_status(rma)).lines] == [1]

    # The restock woke the backordered order: it reserved the returned unit and ships it.
    state = await r.h.until(
        waiting_order,
        lambda s: s.lines[0].backordered == 0 and any(k.kind == "instructed" for k in s.timeline),
        "the backordered order woken and routed",
    )
    [sh] = state.shipments
    assert (sh.node, [(sl.sku, sl.qty) for sl in sh.lines]) == (RETURN_NODE, [(WAKE_SKU, 1)])
    assert [e.kind for e in state.timeline].count("stock") == 1
    assert await r.position(RETURN_NODE, WAKE_SKU) == (1, 1)  # back on hand, and reserved
    rows = await ledger.reservations_of(r.engine, state.order_id)
    assert [(row["shipment_id"], row["status"]) for row in rows] == [(sh.shipment_id, "reserved")]
    await until(queue, lambda q: q == [], "the waiting list emptied")
