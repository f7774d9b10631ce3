"""Payments: authorize the order's value at the start, capture each shipment's value when it
ships, and give back what will never be captured (void) when the order ends. A decline puts
the order on a payment hold until the customer supplies another payment method."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from dom_workflows.order.base import failure_cause
from dom_workflows.order.holds import HoldsMixin

with workflow.unsafe.imports_passed_through():
    from activities.payment.activities import PaymentActivities
    from dom_workflows.money import Money
    from dom_workflows.order import state as bk
    from dom_workflows.order.models import PaymentSummary, PaymentUpdate, Shipment
    from dom_workflows.payment.models import Authorize, Capture, VoidAuthorization

PAYMENTS_PATCH = "payments-v1"
PAYMENT_TIMEOUT = timedelta(seconds=30)
PAYMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["PaymentDeclined", "CaptureRefused", "VoidRefused"],
)


class PaymentsMixin(HoldsMixin):
    _pay_attempt = 0
    _payments_on = False

    def _money(self, amount: object) -> Money:
        return Money.model_validate(
            {"amount": amount, "currency": self._state.order_value.currency}
        )

    async def _start_payments(self) -> None:
        assert self._destination is not None
        if not self._destination.partners.payments or not workflow.patched(PAYMENTS_PATCH):
            return
        if self._state.order_value.amount == 0:
            self._event("payment", "nothing to charge (zero-value order, e.g. an exchange)")
            return
        self._payments_on = True
        zero = Money.zero(self._state.order_value.currency)
        self._state.payment = PaymentSummary(
            authorized=zero, captured=zero, released=zero, refunded=zero
        )
        await self._authorize(self._order.payment_token or "tok_visa")

    async def _authorize(self, token: str) -> bool:
        assert self._state.payment is not None
        self._pay_attempt += 1
        pay = self._state.payment
        try:
            auth = await workflow.execute_activity_method(
                PaymentActivities.authorize_payment,
                Authorize(
                    order_id=self._order.order_id,
                    amount=self._state.order_value,
                    customer_id=self._order.customer.id,
                    payment_method=token,
                    attempt=self._pay_attempt,
                ),
                start_to_close_timeout=PAYMENT_TIMEOUT,
                retry_policy=PAYMENT_RETRY,
                summary=f"authorize {self._state.order_value} (attempt {self._pay_attempt})",
            )
        except ActivityError as e:
            reason = failure_cause(e)
            pay.status = "declined"
            pay.declines.append(reason)
            self._hold("payment", f"payment declined: {reason}")
            return False
        pay.authorization_id, pay.authorized, pay.status = (
            auth.authorization_id,
            auth.amount,
            "authorized",
        )
        self._event("authorized", f"{auth.amount} authorized ({auth.authorization_id})")
        return True

    async def _capture(self, sh: Shipment) -> None:
        pay = self._state.payment
        if not self._payments_on or pay is None or pay.authorization_id is None:
            return
        amount = self._money(
            sum(
                (bk.line(self._state, sl.line_id).unit_price.amount * sl.qty for sl in sh.lines),
                start=self._state.order_value.amount * 0,
            )
        )
        try:
            result = await workflow.execute_activity_method(
                PaymentActivities.capture_payment,
                Capture(
                    authorization_id=pay.authorization_id,
                    order_id=self._order.order_id,
                    shipment_id=sh.shipment_id,
                    amount=amount,
                ),
                start_to_close_timeout=PAYMENT_TIMEOUT,
                retry_policy=PAYMENT_RETRY,
                summary=f"capture {amount} for {sh.shipment_id}",
            )
        except ActivityError as e:
            self._escalate(f"capture of {amount} for {sh.shipment_id} failed: {failure_cause(e)}")
            return
        sh.captured, sh.capture_id = result.amount, result.capture_id
        pay.captured = result.captured_total
        pay.status = "captured"
        self._event("captured", f"{result.amount} captured", sh.shipment_id)

    async def _close_payment(self, reason: str) -> None:
        """Give back whatever of the authorization was not captured (cancelled units included)."""
        pay = self._state.payment
        if not self._payments_on or pay is None or pay.authorization_id is None:
            return
        if pay.captured.amount >= pay.authorized.amount or pay.status == "voided":
            return
        try:
            result = await workflow.execute_activity_method(
                PaymentActivities.void_payment,
                VoidAuthorization(
                    authorization_id=pay.authorization_id,
                    order_id=self._order.order_id,
                    reason=reason,
                ),
                start_to_close_timeout=PAYMENT_TIMEOUT,
                retry_policy=PAYMENT_RETRY,
                summary=f"void the uncaptured {pay.authorized - pay.captured}",
            )
        except ActivityError as e:
            self._escalate(f"void of {pay.authorization_id} failed: {failure_cause(e)}")
            return
        pay.released = result.released
        pay.status = "voided" if pay.captured.amount == 0 else "captured"
        self._event("payment-released", f"{result.released} released to the customer: {reason}")

    @workflow.update
    async def update_payment(self, req: PaymentUpdate) -> PaymentSummary:
        """The customer supplied another payment method after a decline."""
        async with self._lock:
            if await self._authorize(req.payment_token):
                self._unhold("payment", "payment authorized", "customer")
            assert self._state.payment is not None
            return self._state.payment

    @update_payment.validator
    def _validate_update_payment(self, req: PaymentUpdate) -> None:
        if not any(h.kind == "payment" for h in self._state.holds):
            raise ApplicationError(
                f"order {self._state.order_id} is not waiting for a payment method",
                type="PaymentRefused",
            )
