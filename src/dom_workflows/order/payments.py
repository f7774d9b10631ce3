"""Payments: authorize the order's value at the start, capture each shipment's value when it
ships, and give back what will never be captured (void) when the order ends. A decline puts
the order on a payment hold until the customer supplies another payment method. An order paid
at its channel (payment_mode `channel`) is only recorded: the provider is never called.

Every operation that took effect is recorded once, under its idempotency key, in the order's
PaymentSummary; its captured, released and refunded amounts are sums of those records. A
provider's running total (`captured_total`) is never copied: two shipments' captures answer in
any order, and a retried call can answer with the total as it was when it first ran.

The provider's calls are short and carry idempotency keys, so they run as local activities:
inside the workflow task that needs them, without a round trip to the server of their own."""

from __future__ import annotations

from typing import Literal

from temporalio import workflow

from dom_workflows.common.errors import ACTIVITY_FAILED
from dom_workflows.common.retry import PAYMENT_LOCAL

with workflow.unsafe.imports_passed_through():
    from activities.payment.activities import PaymentActivities
    from dom_workflows.common.errors import failure_cause
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.money import Money
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.holds import Holds
    from dom_workflows.order.models import (
        PartnerSetup,
        PaymentOperation,
        PaymentOperationKind,
        PaymentSummary,
        Shipment,
    )
    from dom_workflows.payment.models import Authorize, Capture, VoidAuthorization


class Payments:
    def __init__(self, book: OrderBook, holds: Holds) -> None:
        self._book = book
        self._holds = holds
        self._attempt = 0
        self._on = False

    async def start(self, partners: PartnerSetup) -> None:
        st = self._book.state
        if self._book.order.payment_mode == "channel":
            self._paid_at_channel()
            return
        if not partners.payments:
            return
        if st.order_value.amount == 0:
            self._book.event("payment", "nothing to charge (zero-value order, e.g. an exchange)")
            return
        self._on = True
        st.payment = PaymentSummary(currency=self._book.currency)
        await self.authorize(self._book.order.payment_token or "tok_visa")

    def _paid_at_channel(self) -> None:
        """The channel charged the customer: record what it collected and never call the
        provider (no authorize, capture or void: `_on` stays False)."""
        order = self._book.order
        paid = order.paid if order.paid is not None else self._book.state.order_value
        self._book.state.payment = PaymentSummary(status="paid_at_channel", currency=paid.currency)
        self._record("capture", f"paid-at-channel:{order.order_id}", paid, by="channel")
        self._book.event(
            "paid-at-channel", f"{paid} paid at {order.channel}; the DOM does not charge it"
        )

    async def authorize(self, token: str) -> bool:
        st = self._book.state
        assert st.payment is not None
        pay = st.payment
        self._attempt += 1
        req = Authorize(
            order_id=self._book.order_id,
            amount=st.order_value,
            customer_id=self._book.order.customer.id,
            payment_method=token,
            attempt=self._attempt,
        )
        try:
            auth = await workflow.execute_local_activity_method(
                PaymentActivities.authorize_payment,
                req,
                **PAYMENT_LOCAL,
                summary=f"authorize {st.order_value} (attempt {self._attempt})",
            )
        except ACTIVITY_FAILED as e:
            reason = failure_cause(e)
            pay.status = "declined"
            pay.declines.append(reason)
            self._holds.place("payment", f"payment declined: {reason}")
            return False
        pay.authorization_id = auth.authorization_id
        self._record("authorize", req.idempotency_key(), auth.amount, auth.authorization_id)
        pay.status = "authorized"
        self._book.event("authorized", f"{auth.amount} authorized ({auth.authorization_id})")
        return True

    def units_cancelled(self, lines: list[ShipmentLine]) -> Money:
        """What the cancelled units were worth. The DOM's own authorization gives it back when
        the order ends; an order paid at its channel is refunded by the channel, so the channel
        is told (an escalation ops forward, a `refund-at-channel` timeline entry)."""
        value = self.value_of_lines(lines)
        if self._book.order.payment_mode == "channel" and value.amount > 0:
            pay = self._book.state.payment
            if pay is not None:
                n = sum(1 for op in pay.operations if op.kind == "refund") + 1
                self._record(
                    "refund", f"refund-at-channel:{self._book.order_id}:{n}", value, by="channel"
                )
            self._book.event(
                "refund-at-channel", f"{value} to refund at {self._book.order.channel}"
            )
            self._book.escalate(
                f"{value} of cancelled units was paid at {self._book.order.channel}: refund it there"
            )
        return value

    def value_of_lines(self, lines: list[ShipmentLine]) -> Money:
        """Units' worth: each line's net price, tax included, pro rata (OrderLine.value_of)."""
        by_id = {ln.line_id: ln for ln in self._book.order.lines}
        return sum(
            (by_id[sl.line_id].value_of(sl.qty) for sl in lines),
            start=Money.zero(self._book.currency),
        )

    async def capture(self, sh: Shipment) -> None:
        """Charge what shipped. The caller starts it only while no hold is on."""
        pay = self._book.state.payment
        if not self._on or pay is None or pay.authorization_id is None or sh.capture_id:
            return
        amount = self.value_of_lines(sh.lines)
        req = Capture(
            authorization_id=pay.authorization_id,
            order_id=self._book.order_id,
            shipment_id=sh.shipment_id,
            amount=amount,
        )
        try:
            result = await workflow.execute_local_activity_method(
                PaymentActivities.capture_payment,
                req,
                **PAYMENT_LOCAL,
                summary=f"capture {amount} for {sh.shipment_id}",
            )
        except ACTIVITY_FAILED as e:
            self._book.escalate(
                f"capture of {amount} for {sh.shipment_id} failed: {failure_cause(e)}"
            )
            return
        sh.captured, sh.capture_id = result.amount, result.capture_id
        # This capture's own amount, under its key; never the provider's running total.
        self._record(
            "capture", req.idempotency_key(), result.amount, result.capture_id, sh.shipment_id
        )
        pay.status = "captured"
        self._book.event("captured", f"{result.amount} captured", sh.shipment_id)

    async def close(self, reason: str) -> None:
        """Give back whatever of the authorization was not captured (cancelled units included)."""
        pay = self._book.state.payment
        if not self._on or pay is None or pay.authorization_id is None:
            return
        remainder = pay.uncaptured
        if remainder.amount <= 0 or pay.status == "voided":
            return
        req = VoidAuthorization(
            authorization_id=pay.authorization_id, order_id=self._book.order_id, reason=reason
        )
        try:
            result = await workflow.execute_local_activity_method(
                PaymentActivities.void_payment,
                req,
                **PAYMENT_LOCAL,
                summary=f"void the uncaptured {remainder}",
            )
        except ACTIVITY_FAILED as e:
            self._book.escalate(f"void of {pay.authorization_id} failed: {failure_cause(e)}")
            return
        # The book releases what it computes is left; a provider that says otherwise is a
        # divergence for a person (and reconciliation), not a number to copy.
        self._record("release", req.idempotency_key(), remainder, pay.authorization_id)
        pay.status = "voided" if pay.captured.amount == 0 else "captured"
        self._book.event("payment-released", f"{remainder} released to the customer: {reason}")
        if result.released != remainder:
            self._book.escalate(
                f"the provider released {result.released} of {pay.authorization_id}; the "
                f"order's book left {remainder} uncaptured: check the authorization"
            )

    def _record(
        self,
        kind: PaymentOperationKind,
        key: str,
        amount: Money,
        reference: str | None = None,
        shipment_id: str | None = None,
        by: Literal["provider", "channel"] = "provider",
    ) -> None:
        pay = self._book.state.payment
        assert pay is not None
        pay.record(
            PaymentOperation(
                kind=kind,
                key=key,
                amount=amount,
                at=workflow.now(),
                reference=reference,
                shipment_id=shipment_id,
                by=by,
            )
        )

    def refuse_update(self) -> str | None:
        if any(h.kind == "payment" for h in self._book.state.holds):
            return None
        return f"order {self._book.order_id} is not waiting for a payment method"
