"""Messages between the order workflow and a payment provider adapter.

Every amount is `Money` (Decimal + ISO currency, a string on the wire). Each message knows its
own Idempotency-Key, derived from business ids, so a retried call never charges twice.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from dom_workflows.money import Money


class Authorize(BaseModel):
    order_id: str
    amount: Money
    customer_id: str
    # A token from the channel's payment form; the DOM never sees card numbers.
    payment_method: str = "tok_visa"
    # A new payment method after a decline is a new authorization attempt, with its own key.
    attempt: int = Field(default=1, ge=1)

    def idempotency_key(self) -> str:
        return f"auth:{self.order_id}" + (f":{self.attempt}" if self.attempt > 1 else "")


class Authorization(BaseModel):
    authorization_id: str
    order_id: str
    amount: Money
    captured: Money
    status: str  # authorized | partially_captured | captured | voided


class Capture(BaseModel):
    """Capture the value of one shipment when it ships."""

    authorization_id: str
    order_id: str
    shipment_id: str
    amount: Money

    def idempotency_key(self) -> str:
        return f"capture:{self.shipment_id}"


class CaptureResult(BaseModel):
    capture_id: str
    authorization_id: str
    shipment_id: str
    amount: Money
    captured_total: Money  # everything captured on the authorization so far


class VoidAuthorization(BaseModel):
    """Release whatever of the authorization has not been captured (cancellation)."""

    authorization_id: str
    order_id: str
    reason: str = "order cancelled"

    def idempotency_key(self) -> str:
        return f"void:{self.authorization_id}"


class VoidResult(BaseModel):
    authorization_id: str
    released: Money  # the uncaptured remainder given back to the customer's card
    status: str


class Refund(BaseModel):
    """Give money back on a capture (cancellation after capture, or a return).

    `seq` numbers the order's refunds (1, 2, ...), so two different refunds of the same amount
    are two refunds while a retry of one is still one.
    """

    capture_id: str
    order_id: str
    seq: int = Field(ge=1)
    amount: Money
    reason: str = "return"

    def idempotency_key(self) -> str:
        return f"refund:{self.order_id}:{self.seq}"


class RefundResult(BaseModel):
    refund_id: str
    capture_id: str
    amount: Money
    refunded_total: Money  # everything refunded on the capture so far
