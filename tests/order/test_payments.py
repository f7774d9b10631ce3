"""The order's payment book against the provider (the simulator over HTTP): every capture is
recorded under its own key and the captured amount is their sum, whichever capture answers
last; reconciliation's payment comparison then finds nothing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.payment.activities import PaymentActivities
from activities.reconcile.compare import OrderView, payment_findings
from dom_workflows.config import Settings
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.order.models import (
    OrderState,
    PaymentOperation,
    PaymentSummary,
    PlaceHold,
    ReleaseHold,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from dom_workflows.payment.models import Capture, CaptureResult
from tests.support.harness import OrderHarness, make_order, replace_activity
from tests.support.sim import LiveSim
from workers.worker import build_worker, client_activities, dependencies


class FirstCaptureAnswersLast:
    """The provider adapter with the first capture's answer held back until the second capture
    has answered (bounded): the provider applied both, in order, and the workflow hears the
    older running total last, as when two shipments' captures run at once."""

    def __init__(self, real: PaymentActivities) -> None:
        self.real = real
        self.called: list[str] = []
        self.answered: list[str] = []
        self.second_answered = asyncio.Event()

    @activity.defn(name="capture_payment")
    async def capture_payment(self, req: Capture) -> CaptureResult:
        self.called.append(req.shipment_id)
        first = len(self.called) == 1
        result = await self.real.capture_payment(req)
        if first:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self.second_answered.wait()
        else:
            self.second_answered.set()
        self.answered.append(req.shipment_id)
        return result


def reconcile_payments(state: OrderState, sim: LiveSim) -> list[Any]:
    """What `dom reconcile` compares for payments, over the provider's own listings."""
    pay = sim.sim.payments
    return payment_findings(
        {
            state.order_id: OrderView(
                state.order_id, state, {s.shipment_id: s.node for s in state.shipments}
            )
        },
        [a.record() for a in pay.auths.values()],
        [c.record() for c in pay.captures.values()],
        [r.record() for r in pay.refunds.values()],
        lambda _: True,
    )


async def test_two_captures_answering_out_of_order_are_both_in_the_book(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(payment_url=f"{live_sim.url}/payments")
    async with dependencies(settings, engine=sqlite_engine, network=network) as deps:
        assert deps.payment_url is not None
        double = FirstCaptureAnswersLast(PaymentActivities(deps.http, deps.payment_url))
        acts = replace_activity(deps, "capture_payment", double.capture_payment)
        async with build_worker(
            time_env.client,
            task_queue,
            deps,
            activities=acts + client_activities(time_env.client, task_queue),
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order = make_order([("SUP-BOARD", 1), ("BOOT-HIKE-9", 1)], zip_code="97217")
            handle = await h.start(order)
            state = await h.instructed(handle, 2)
            first, second = state.shipments
            # Held, both shipments ship and wait to be charged; the release starts both
            # captures in one workflow task, so they run at the same time.
            await handle.execute_update(OrderWorkflow.place_hold, PlaceHold(reason="check"))
            for sh in (first, second):
                await h.event(handle, sh.shipment_id, "shipped", carrier="UPS", tracking="1Z")
            await h.until(
                handle,
                lambda s: sum(1 for e in s.timeline if e.kind == "consumed") == 2,
                "both shipments left their nodes",
            )
            await handle.execute_update(OrderWorkflow.release_hold, ReleaseHold())
            await h.until(
                handle,
                lambda s: all(sh.capture_id for sh in s.shipments),
                "both captures recorded",
            )
            for sh in (first, second):
                await h.event(handle, sh.shipment_id, "delivered")
            await handle.result()
            final = await h.state(handle)

    assert len(double.called) == 2 and double.answered == double.called[::-1]
    assert all(sh.status == ShipmentStatus.DELIVERED for sh in final.shipments)
    pay = final.payment
    assert pay is not None and pay.authorization_id is not None
    per_shipment = sum(sh.captured.amount for sh in final.shipments if sh.captured)
    provider = live_sim.sim.payments.auths[pay.authorization_id].captured.amount
    assert per_shipment == provider == Decimal("100.00")
    assert pay.captured.amount == provider
    assert pay.released.amount == 0  # everything was captured: nothing to give back
    assert reconcile_payments(final, live_sim) == []


def test_reconciliation_counts_the_refunds_the_orders_returns_made() -> None:
    """A return refunds after the order's run has ended: its workflow records the refund, and
    reconciliation adds it to the order's own book before comparing with the provider."""
    pay = PaymentSummary(currency="USD", authorization_id="auth_1")
    for kind, key, cents in (
        ("authorize", "auth:O-1", 10000),
        ("capture", "capture:O-1:1:n", 10000),
    ):
        pay.record(
            PaymentOperation(
                kind=kind,
                key=key,
                amount=Money(amount=Decimal(cents) / 100, currency="USD"),
                at=datetime(2026, 1, 1, tzinfo=UTC),
                reference="cap_1" if kind == "capture" else "auth_1",
                shipment_id="O-1:1:n" if kind == "capture" else None,
            )
        )
    fields: dict[str, Any] = {"order_id": "O-1", "payment": pay, "shipments": []}
    state = OrderState.model_construct(**fields)
    usd = {"currency": "USD"}
    auths = [
        {
            "authorization_id": "auth_1",
            "order_id": "O-1",
            "amount": {"amount": "100.00", **usd},
            "captured": {"amount": "100.00", **usd},
            "status": "captured",
        }
    ]
    refunds = [
        {
            "refund_id": "ref_1",
            "capture_id": "cap_1",
            "order_id": "O-1",
            "seq": 1001,
            "amount": {"amount": "30.00", **usd},
        }
    ]
    view = OrderView("O-1", state, {})
    [finding] = payment_findings({"O-1": view}, auths, [], refunds, lambda _: True)
    assert finding.kind == "payment-total-mismatch"
    view.returns_refunded = Decimal("30.00")
    assert payment_findings({"O-1": view}, auths, [], refunds, lambda _: True) == []
