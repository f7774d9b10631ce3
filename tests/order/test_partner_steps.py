"""The order workflow with real partner adapters against the partner simulator over HTTP:
payments (authorize, capture per shipment, void the rest, decline -> payment hold), dropship
purchase orders, and labels for ship-from-store -- each effect exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger, schema
from dom_workflows.config import Settings
from dom_workflows.money import Money
from dom_workflows.network import Network, SkuConfig
from dom_workflows.order import search_attributes as attrs
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    OrderRequest,
    OrderStatus,
    PaymentUpdate,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.harness import OrderHarness, make_order, order_harness
from tests.support.sim import LiveSim
from workers.simulator.idempotency import Outcome

STORE_SKU = "STORE-ONLY-MUG"


@pytest_asyncio.fixture
async def partnered(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> AsyncIterator[OrderHarness]:
    # A SKU only one store stocks, so the optimal route ships from that store.
    async with sqlite_engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=STORE_SKU, name="Mug", weight_lb=1.0, price=Decimal("20"), tags=[]
            )
        )
        await conn.execute(
            schema.inventory_positions.insert().values(
                node_id="store-nyc",
                sku=STORE_SKU,
                on_hand=10,
                reserved=0,
                safety_stock=2,
                updated_at=datetime.now(UTC),
            )
        )
    net = network.model_copy(
        update={
            "skus": [
                *network.skus,
                SkuConfig(sku=STORE_SKU, name="Mug", weight_lb=1.0, price=Decimal("20")),
            ]
        }
    )
    settings = Settings(
        payment_url=f"{live_sim.url}/payments",
        carrier_url=f"{live_sim.url}/carrier",
        supplier_url=f"{live_sim.url}/suppliers",
    )
    async with order_harness(time_env, sqlite_engine, net, task_queue, settings) as h:
        yield h


async def escalated(handle: WorkflowHandle[Any, Any]) -> bool | None:
    """The Escalated search attribute, as ops filter on it."""
    return (await handle.describe()).typed_search_attributes.get(attrs.ESCALATED)


def no_duplicates(sim: LiveSim) -> None:
    assert sim.effects()["duplicates"] == []


async def test_authorize_capture_per_shipment_and_void_the_cancelled_part(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    order = make_order([("TEE-MERINO-M", 2)])  # 2 x 50.00
    handle = await partnered.start(order)
    state = await partnered.instructed(handle)
    assert state.payment and state.payment.status == "authorized"
    assert state.payment.authorized.amount == Decimal("100.00")
    result = await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    assert result.amount_not_charged and result.amount_not_charged.amount == Decimal("50.00")
    sid = state.shipments[0].shipment_id
    await partnered.event(handle, sid, "shipped", carrier="UPS", tracking="1Z")
    await partnered.event(handle, sid, "delivered")
    await handle.result()
    pay = (await partnered.state(handle)).payment
    assert pay is not None
    assert (pay.captured.amount, pay.released.amount) == (Decimal("50.00"), Decimal("50.00"))
    subjects = live_sim.effects()["by_subject"]
    assert subjects.get(f"capture:{sid}") == 1
    assert sum(1 for s in subjects if s.startswith("void:")) == 1
    no_duplicates(live_sim)


def discounted(order: OrderRequest, **update: Any) -> OrderRequest:
    """Each line (2 x 50.00) with 10.00 off and 5.40 tax: 95.40, 47.70 a unit."""
    lines = [
        ln.model_copy(update={"discount": usd("10.00"), "tax": usd("5.40")}) for ln in order.lines
    ]
    return order.model_copy(update={"lines": lines, **update})


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


async def test_discounts_and_tax_are_authorized_captured_and_given_back_at_the_net_price(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    handle = await partnered.start(discounted(make_order([("TEE-MERINO-M", 2)])))
    state = await partnered.instructed(handle)
    assert state.order_value == usd("95.40")
    assert state.payment and state.payment.authorized == usd("95.40")
    result = await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    assert result.amount_not_charged == usd("47.70")  # the line's net unit price, tax included
    sid = state.shipments[0].shipment_id
    await partnered.event(handle, sid, "shipped", carrier="UPS", tracking="1Z")
    await partnered.event(handle, sid, "delivered")
    await handle.result()
    pay = (await partnered.state(handle)).payment
    assert pay is not None and (pay.captured, pay.released) == (usd("47.70"), usd("47.70"))
    no_duplicates(live_sim)


async def test_an_order_paid_at_the_channel_is_recorded_and_never_charged_again(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    order = discounted(
        make_order([("TEE-MERINO-M", 2)]),
        channel="shopify",
        payment_mode="channel",
        paid=usd("105.40"),  # the goods plus 10.00 shipping
    )
    handle = await partnered.start(order)
    state = await partnered.instructed(handle)
    pay = state.payment
    assert pay is not None and pay.status == "paid_at_channel"
    assert (pay.captured, pay.authorized, pay.authorization_id) == (usd("105.40"), usd("0"), None)
    assert [e.kind for e in state.timeline].count("paid-at-channel") == 1
    result = await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    assert result.amount_not_charged == usd("47.70")
    sid = state.shipments[0].shipment_id
    await partnered.event(handle, sid, "shipped", carrier="UPS", tracking="1Z")
    await partnered.event(handle, sid, "delivered")
    assert (await handle.result()).status == OrderStatus.COMPLETED
    final = await partnered.state(handle)
    # The cancelled unit is owed back by the channel, which refunds it (the DOM records it).
    assert final.payment is not None and final.payment.refunded == usd("47.70")
    assert final.payment.operations[: len(pay.operations)] == pay.operations  # only added to
    assert (final.payment.captured, final.payment.authorized) == (pay.captured, pay.authorized)
    assert final.shipments[0].capture_id is None
    # The payment provider never heard of the order: no authorize, capture or void.
    subjects = live_sim.effects()["by_subject"]
    assert f"authorize:{order.order_id}" not in subjects
    assert f"capture:{sid}" not in subjects
    assert not any(s.startswith("void:") for s in subjects)


async def test_a_declined_payment_holds_the_order_until_a_new_method_works(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    order = make_order([("TEE-MERINO-M", 1)]).model_copy(update={"payment_token": "tok_declined"})
    handle = await partnered.start(order)
    state = await partnered.until(
        handle, lambda s: bool(s.holds) and bool(s.routes), "payment hold"
    )
    assert state.holds[0].kind == "payment" and state.status == OrderStatus.ON_HOLD
    assert not any(e.kind == "instructed" for e in state.timeline)
    pay = await handle.execute_update(
        OrderWorkflow.update_payment, PaymentUpdate(payment_token="tok_visa")
    )
    assert pay.status == "authorized" and len(pay.declines) == 1
    state = await partnered.instructed(handle)
    assert not state.holds


async def test_dropship_lines_go_to_the_supplier_as_a_purchase_order(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    handle = await partnered.start(make_order([("SUP-BOARD", 1)], zip_code="97217"))
    state = await partnered.instructed(handle)
    [sh] = state.shipments
    assert sh.node == "ds-portland" and sh.po_id == f"PO-{sh.shipment_id}"
    await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="customer changed mind"))
    await handle.result()
    subjects = live_sim.effects()["by_subject"]
    assert subjects.get(f"supplier-request:{sh.shipment_id}") == 1
    assert subjects.get(f"supplier-cancel:{sh.shipment_id}") == 1  # cancelled at the supplier
    no_duplicates(live_sim)


async def test_ship_from_store_buys_a_label_and_voids_it_when_cancelled(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    handle = await partnered.start(make_order([(STORE_SKU, 1)]))
    state = await partnered.instructed(handle)
    [sh] = state.shipments
    assert sh.node == "store-nyc"
    await partnered.event(handle, sh.shipment_id, "accepted")
    state = await partnered.until(
        handle, lambda s: s.shipments[0].label_id is not None, "label bought"
    )
    label = state.shipments[0]
    assert label.tracking and label.carrier
    await handle.execute_update(OrderWorkflow.cancel, CancelRequest())
    await handle.result()
    final = await partnered.state(handle)
    assert final.shipments[0].status == ShipmentStatus.CANCELLED
    assert any(e.kind == "label-voided" for e in final.timeline)
    subjects = live_sim.effects()["by_subject"]
    assert sum(1 for s in subjects if "void" in s and label.label_id and label.label_id in s) == 1
    no_duplicates(live_sim)


async def test_a_node_that_refuses_to_cancel_after_a_breach_keeps_the_shipment(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    # The simulator plays the node: it accepts and ships at once, but its events never reach
    # the DOM (no API here), so the DOM sees a silent node, breaches the accept SLA, and asks
    # to cancel a request the node has already shipped.
    live_sim.configure(
        accept_delay=0.0, ship_delay=0.0, deliver_delay=600.0, event_give_up_after=0.0
    )
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        reserved0 = (await ledger.atp_view(h.engine, "TEE-MERINO-M")).total_reserved
        handle = await h.start(make_order([("TEE-MERINO-M", 1)]))
        sh = (await h.instructed(handle)).shipments[0]
        live_sim.sim.fulfilments.jobs[sh.shipment_id].status = "shipped"  # what the DOM missed
        await time_env.sleep(sh.sla.accept_within + timedelta(seconds=1))
        state = await h.until(
            handle, lambda s: any("refused to cancel" in e for e in s.escalations), "refusal"
        )
        assert len(state.shipments) == 1 and state.shipments[0].status.is_open
        refusals = [e for e in state.escalations if "refused to cancel" in e]
        assert len(refusals) == 1 and sh.shipment_id in refusals[0]
        assert len(state.routes) == 1  # not re-routed: the units stay reserved at the node
        reserved = (await ledger.atp_view(h.engine, "TEE-MERINO-M")).total_reserved
        assert reserved == reserved0 + 1
        await h.event(handle, sh.shipment_id, "shipped", carrier="UPS-SIM", tracking="1Z")
        await h.event(handle, sh.shipment_id, "delivered")
        result = await handle.result()
        assert result.status == OrderStatus.COMPLETED


async def test_a_partial_cancel_amends_the_request_at_the_node(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        handle = await h.start(make_order([("BOOT-HIKE-9", 3)]))
        sh = (await h.instructed(handle)).shipments[0]
        await handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=2)])
        )
        state = await h.state(handle)
        assert state.shipments[0].units == 1 and state.shipments[0].status.is_open
        assert any(e.kind == "node-amended" for e in state.timeline)
        subjects = live_sim.effects()["by_subject"]
        assert subjects.get(f"amend:{sh.shipment_id}:1") == 1
        assert f"node-cancel:{sh.shipment_id}" not in subjects  # the rest still ships
        assert live_sim.sim.fulfilments.jobs[sh.shipment_id].status != "cancelled"


async def test_a_cancel_the_node_refuses_releases_nothing(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        reserved0 = (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved
        handle = await h.start(make_order([("BOOT-HIKE-9", 2)]))
        sh = (await h.instructed(handle)).shipments[0]
        live_sim.sim.fulfilments.jobs[sh.shipment_id].status = "shipped"  # its event is late
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="too slow"))
        assert "cannot cancel: shipped" in str(err.value.cause)
        state = await h.state(handle)
        assert state.status != OrderStatus.CANCELLED and state.shipments[0].status.is_open
        assert state.lines[0].cancelled == 0
        assert any("cancellation not done at the node" in e for e in state.escalations)
        # Nothing was released: the units are on their way.
        assert (await ledger.atp_view(h.engine, "BOOT-HIKE-9")).total_reserved == reserved0 + 2


async def test_a_capture_the_provider_refuses_is_escalated_and_the_order_completes(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    handle = await partnered.start(make_order([("TEE-MERINO-M", 1)]))
    state = await partnered.instructed(handle)
    [sh] = state.shipments
    assert state.payment is not None and state.payment.authorization_id is not None
    # The provider voided the authorization on its side: it will refuse the capture (409).
    live_sim.sim.payments.auths[state.payment.authorization_id].status = "voided"
    assert await escalated(handle) is False
    await partnered.event(handle, sh.shipment_id, "shipped", carrier="UPS", tracking="1Z")
    state = await partnered.until(handle, lambda s: bool(s.escalations), "the escalation")
    [message] = state.escalations
    assert message.startswith(f"capture of 50.00 USD for {sh.shipment_id} failed: CaptureRefused")
    assert "authorization is voided" in message
    assert [e.message for e in state.timeline if e.kind == "escalated"] == [message]
    assert await escalated(handle) is True
    await partnered.event(handle, sh.shipment_id, "delivered")
    result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    final = await partnered.state(handle)
    assert final.shipments[0].capture_id is None and final.shipments[0].captured is None
    assert final.payment is not None and final.payment.captured.amount == 0
    assert sum(1 for e in final.timeline if e.kind == "captured") == 0
    assert f"capture:{sh.shipment_id}" not in live_sim.effects()["by_subject"]


async def test_a_label_the_carrier_refuses_is_escalated_and_the_store_still_ships(
    partnered: OrderHarness, live_sim: LiveSim
) -> None:
    refusals: list[str] = []

    def refuse(payload: dict[str, Any]) -> Outcome:
        refusals.append(payload["shipment_id"])
        return Outcome(422, {"error": "address not serviceable"})

    live_sim.sim.carrier.buy_label = refuse  # type: ignore[method-assign]
    handle = await partnered.start(make_order([(STORE_SKU, 1)]))
    [sh] = (await partnered.instructed(handle)).shipments
    assert sh.node == "store-nyc"
    await partnered.event(handle, sh.shipment_id, "accepted")
    state = await partnered.until(handle, lambda s: bool(s.escalations), "the escalation")
    [message] = state.escalations
    assert message.startswith(f"label for {sh.shipment_id} could not be bought: LabelRefused")
    assert "address not serviceable" in message
    assert refusals == [sh.shipment_id]  # refused is an answer: not retried
    assert await escalated(handle) is True
    assert state.shipments[0].label_id is None
    assert not any(e.kind == "label" for e in state.timeline)
    # The order still proceeds: the store ships (its own label) and the order completes.
    await partnered.event(handle, sh.shipment_id, "shipped", carrier="USPS", tracking="9400")
    await partnered.event(handle, sh.shipment_id, "delivered")
    result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    final = await partnered.state(handle)
    assert [e.kind for e in final.timeline].count("consumed") == 1
    assert final.shipments[0].capture_id is not None
    assert final.escalations == [message]
