"""Carrier, payment, supplier and fulfilment adapters over real HTTP against the simulator,
with 5xx (before and after the effect) and slow answers injected: every idempotency key has
exactly one effect and every business subject happened once."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.carrier.activities import CarrierActivities, pick_best
from activities.fulfillment.activities import FulfillmentActivities
from activities.payment.activities import PaymentActivities
from activities.supplier.activities import SupplierActivities
from dom_workflows.common.models import Address, ShipmentLine
from dom_workflows.fulfillment.models import CancelFulfillment, FulfillmentRequest
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.payment.models import Authorize, Capture, Refund, VoidAuthorization
from dom_workflows.shipping.models import LabelRequest, Parcel, RateQuote, RateRequest, VoidLabel
from dom_workflows.supplier.models import PurchaseOrder, PurchaseOrderLine, po_id_for
from tests.support.retry import like_temporal
from tests.support.sim import LiveSim
from workers.worker import with_simulated_nodes

CUSTOMER = Address(name="Ana Ruiz", line1="350 5th Ave", city="New York", state="NY", zip="10118")
RENO = Address(name="Reno FC", city="Reno", state="NV", zip="89502")


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def assert_no_duplicates(live: LiveSim) -> None:
    effects = live.effects()
    assert effects["duplicates"] == [], effects
    assert all(n == 1 for n in effects["by_key"].values())


async def test_rate_shop_picks_the_cheapest_quote_that_keeps_the_promise(live_sim: LiveSim) -> None:
    carrier = CarrierActivities(live_sim.http, f"{live_sim.url}/carrier")
    req = RateRequest(
        shipment_id="R-1:1:wh-reno",
        order_id="R-1",
        ship_from=RENO,
        ship_to=CUSTOMER,
        parcel=Parcel(weight_lb=Decimal("3.2")),
        promise_days=3,
    )
    result = await carrier.rate_shop(req)
    assert len(result.quotes) == 6
    assert result.best is not None and result.best.transit_days <= 3
    on_time = [q for q in result.quotes if q.transit_days <= 3]
    assert result.best.amount.amount == min(q.amount.amount for q in on_time)
    none_on_time = await carrier.rate_shop(
        req.model_copy(update={"service": "ground", "promise_days": 1})
    )
    assert none_on_time.best is not None and none_on_time.best.service == "ground"


def test_pick_best_prefers_on_time_then_fastest() -> None:
    def q(rid: str, amount: str, days: int) -> RateQuote:
        return RateQuote(
            rate_id=rid, carrier="C", service="s", amount=usd(amount), transit_days=days
        )

    assert pick_best([], 2) is None
    assert pick_best([q("a", "5", 5), q("b", "9", 2), q("c", "8", 2)], 2).rate_id == "c"  # type: ignore[union-attr]
    assert pick_best([q("a", "5", 5), q("b", "9", 4)], 1).rate_id == "b"  # type: ignore[union-attr]


async def test_labels_and_voids_survive_5xx_and_timeouts(live_sim: LiveSim) -> None:
    # The carrier answers in 1 s when "slow"; the adapter gives up after 0.3 s and retries.
    carrier = CarrierActivities(live_sim.http, f"{live_sim.url}/carrier", attempts=4, timeout=0.3)
    live_sim.configure(fail_rate=0.4, timeout_rate=0.2)
    labels = []
    for i in range(8):
        req = LabelRequest(
            shipment_id=f"L-{i}:1:wh-reno",
            order_id=f"L-{i}",
            carrier="FEDEX-SIM",
            service="express",
            ship_from=RENO,
            ship_to=CUSTOMER,
            parcel=Parcel(weight_lb=Decimal("1.5")),
        )
        labels.append(await like_temporal(lambda req=req: carrier.purchase_label(req)))  # type: ignore[misc]
    back = LabelRequest.model_validate(
        {
            **labels[0].model_dump(),
            "order_id": "L-0",
            "ship_from": CUSTOMER,
            "ship_to": RENO,
            "parcel": {"weight_lb": "1.5"},
            "return": True,
        }
    )
    ret = await like_temporal(lambda: carrier.purchase_label(back))
    assert ret.is_return and ret.label_id != labels[0].label_id
    for lab in labels[:4]:
        void = VoidLabel(label_id=lab.label_id, shipment_id=lab.shipment_id)
        assert (await like_temporal(lambda v=void: carrier.void_label(v))).status == "voided"  # type: ignore[misc]
    live_sim.configure(fail_rate=0.0, timeout_rate=0.0)
    assert (
        await carrier.void_label(VoidLabel(label_id="lbl_x", shipment_id="x"))
    ).status == "not_found"

    assert_no_duplicates(live_sim)
    subjects = live_sim.effects()["by_subject"]
    assert sum(1 for s in subjects if s.startswith("label:")) == 9
    assert sum(1 for s in subjects if s.startswith("void:")) == 4
    faults = {e.fault for e in live_sim.sim.log.entries}
    assert {"fail_after", "slow"} <= faults, "the injected faults did not happen; raise the rates"
    assert max(live_sim.keys_seen().values()) > 1  # retries really happened


async def test_payments_never_charge_twice_under_5xx(live_sim: LiveSim) -> None:
    pay = PaymentActivities(live_sim.http, f"{live_sim.url}/payments", attempts=3)
    live_sim.configure(fail_rate=0.5)
    auth = await like_temporal(
        lambda: pay.authorize_payment(
            Authorize(order_id="P-1", amount=usd("300.00"), customer_id="C-1")
        )
    )
    assert auth.amount == usd("300.00")
    captures = []
    for n, amount in enumerate(["120.00", "99.99"]):
        cap = Capture(
            authorization_id=auth.authorization_id,
            order_id="P-1",
            shipment_id=f"P-1:1:n{n}",
            amount=usd(amount),
        )
        captures.append(await like_temporal(lambda c=cap: pay.capture_payment(c)))  # type: ignore[misc]
    assert captures[-1].captured_total == usd("219.99")
    refund = Refund(capture_id=captures[0].capture_id, order_id="P-1", seq=1, amount=usd("20.00"))
    assert (await like_temporal(lambda: pay.refund_payment(refund))).refunded_total == usd("20.00")
    void = VoidAuthorization(authorization_id=auth.authorization_id, order_id="P-1")
    assert (await like_temporal(lambda: pay.void_payment(void))).released == usd("80.01")

    assert_no_duplicates(live_sim)
    state = live_sim.sim.payments.auths[auth.authorization_id]
    assert state.captured == usd("219.99") and state.status == "voided"
    assert max(live_sim.keys_seen().values()) > 1


async def test_payment_refusals_are_not_retried(live_sim: LiveSim) -> None:
    pay = PaymentActivities(live_sim.http, f"{live_sim.url}/payments")
    with pytest.raises(ApplicationError) as declined:
        await pay.authorize_payment(
            Authorize(
                order_id="P-2", amount=usd("10.00"), customer_id="C", payment_method="tok_declined"
            )
        )
    assert declined.value.type == "PaymentDeclined" and declined.value.non_retryable
    auth = await pay.authorize_payment(
        Authorize(order_id="P-3", amount=usd("10.00"), customer_id="C")
    )
    too_much = Capture(
        authorization_id=auth.authorization_id,
        order_id="P-3",
        shipment_id="P-3:1:x",
        amount=usd("10.01"),
    )
    with pytest.raises(ApplicationError) as refused:
        await pay.capture_payment(too_much)
    assert refused.value.type == "CaptureRefused" and refused.value.non_retryable


async def test_an_outage_is_a_retryable_error_and_the_retry_is_still_one_effect(
    live_sim: LiveSim,
) -> None:
    pay = PaymentActivities(live_sim.http, f"{live_sim.url}/payments", attempts=2)
    live_sim.configure(fail_rate=1.0)
    req = Authorize(order_id="P-4", amount=usd("42.00"), customer_id="C")
    with pytest.raises(ApplicationError) as down:
        await pay.authorize_payment(req)
    assert down.value.type == "PaymentUnavailable" and not down.value.non_retryable
    live_sim.configure(fail_rate=0.0)
    await pay.authorize_payment(req)  # Temporal's next attempt
    assert live_sim.effects()["by_subject"] == {"authorize:P-4": 1}


async def test_purchase_orders_to_suppliers(live_sim: LiveSim, network: Network) -> None:
    suppliers = SupplierActivities(
        live_sim.http, network, fallback_base_url=f"{live_sim.url}/suppliers"
    )
    live_sim.configure(fail_rate=0.5)
    sid = "D-1:1:ds-portland"
    po = PurchaseOrder(
        po_id=po_id_for(sid),
        shipment_id=sid,
        order_id="D-1",
        supplier="ds-portland",
        service="ground",
        lines=[PurchaseOrderLine(line_id="1", sku="SUP-BOARD", qty=1, unit_cost=usd("420.00"))],
        ship_to=CUSTOMER,
    )
    ack = await like_temporal(lambda: suppliers.send_purchase_order(po))
    assert ack.status == "received" and ack.status_code in (202, 409)
    assert live_sim.sim.fulfilments.jobs[sid].kind == "supplier"
    live_sim.configure(fail_rate=0.0)
    by_url = SupplierActivities(live_sim.http, f"{live_sim.url}/suppliers")
    from dom_workflows.supplier.models import CancelPurchaseOrder

    cancelled = await by_url.cancel_purchase_order(
        CancelPurchaseOrder(po_id=po.po_id, shipment_id=sid, supplier="ds-portland")
    )
    assert cancelled.status == "cancelled" and cancelled.status_code == 200
    assert_no_duplicates(live_sim)
    with pytest.raises(ValueError):
        SupplierActivities(live_sim.http, network).endpoint("ds-portland")


async def test_fulfilment_adapter_against_simulated_nodes(
    live_sim: LiveSim, network: Network
) -> None:
    nodes = FulfillmentActivities(with_simulated_nodes(network, live_sim.url), live_sim.http)
    live_sim.configure(fail_rate=0.5)
    for i, node in enumerate(["wh-reno", "store-nyc", "3pl-memphis"]):
        req = FulfillmentRequest(
            shipment_id=f"N-{i}:1:{node}",
            order_id=f"N-{i}",
            node=node,
            service="ground",
            lines=[ShipmentLine(line_id="1", sku="FLEECE-M", qty=1)],
            ship_to=CUSTOMER,
        )
        ack = await like_temporal(lambda r=req: nodes.instruct_node(r))  # type: ignore[misc]
        assert ack.adapter == "http"
        cancel = CancelFulfillment(
            shipment_id=req.shipment_id, order_id=req.order_id, node=node, reason="test"
        )
        await like_temporal(lambda c=cancel: nodes.cancel_at_node(c))  # type: ignore[misc]
    assert_no_duplicates(live_sim)
    assert len(live_sim.effects()["by_subject"]) == 6
    assert all(j.status == "cancelled" for j in live_sim.sim.fulfilments.jobs.values())


async def test_wire_format_keeps_money_as_strings(live_sim: LiveSim) -> None:
    # A real provider must be able to parse what we send without float rounding.
    pay = PaymentActivities(live_sim.http, f"{live_sim.url}/payments")
    await pay.authorize_payment(Authorize(order_id="P-9", amount=usd("0.10"), customer_id="C"))
    async with httpx.AsyncClient() as raw:
        body = (await raw.get(f"{live_sim.url}/_log")).json()
    assert body[-1]["path"] == "/payments/authorizations"
    assert live_sim.sim.payments.auths[next(iter(live_sim.sim.payments.auths))].amount == usd(
        "0.10"
    )
