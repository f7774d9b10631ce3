"""The payment provider: authorizations, captures, voids and refunds, all in Decimal.

Invariants enforced like a real provider: captured <= authorized, refunded <= captured, no
capture after a void, one currency per authorization.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dom_workflows.money import Money
from dom_workflows.payment.models import Authorize, Capture, Refund, VoidAuthorization
from workers.simulator.idempotency import Outcome

# Test tokens, as card networks' sandboxes have them.
DECLINED_TOKENS = {"tok_declined", "tok_insufficient_funds"}


@dataclass
class Auth:
    authorization_id: str
    order_id: str
    amount: Money
    captured: Money
    status: str = "authorized"

    def view(self) -> dict[str, Any]:
        return {
            "authorization_id": self.authorization_id,
            "order_id": self.order_id,
            "amount": self.amount.model_dump(mode="json"),
            "captured": self.captured.model_dump(mode="json"),
            "status": self.status,
        }


@dataclass
class CaptureRecord:
    capture_id: str
    authorization_id: str
    shipment_id: str
    amount: Money
    refunded: Money


def _money(m: Money) -> dict[str, Any]:
    return m.model_dump(mode="json")


class PaymentProvider:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.auths: dict[str, Auth] = {}
        self.captures: dict[str, CaptureRecord] = {}

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(48):012x}"

    def authorize(self, payload: dict[str, Any]) -> Outcome:
        req = Authorize.model_validate(payload)
        if req.amount.amount <= 0:
            return Outcome(422, {"error": "amount must be positive"})
        if req.payment_method in DECLINED_TOKENS:
            return Outcome(402, {"error": "card_declined", "decline_code": req.payment_method[4:]})
        auth = Auth(self._id("auth"), req.order_id, req.amount, Money.zero(req.amount.currency))
        self.auths[auth.authorization_id] = auth
        return Outcome(201, auth.view(), subject=f"authorize:{req.order_id}")

    def capture(self, authorization_id: str, payload: dict[str, Any]) -> Outcome:
        req = Capture.model_validate(payload)
        auth = self.auths.get(authorization_id)
        if auth is None:
            return Outcome(404, {"error": f"no authorization {authorization_id}"})
        if auth.status == "voided":
            return Outcome(409, {"error": "authorization is voided"})
        if req.amount.currency != auth.amount.currency:
            return Outcome(422, {"error": f"authorization is in {auth.amount.currency}"})
        if req.amount.amount <= 0:
            return Outcome(422, {"error": "amount must be positive"})
        remaining = auth.amount - auth.captured
        if req.amount.amount > remaining.amount:
            return Outcome(409, {"error": f"capture {req.amount} exceeds remaining {remaining}"})
        auth.captured = auth.captured + req.amount
        auth.status = "captured" if auth.captured == auth.amount else "partially_captured"
        cap = CaptureRecord(
            self._id("cap"),
            authorization_id,
            req.shipment_id,
            req.amount,
            Money.zero(req.amount.currency),
        )
        self.captures[cap.capture_id] = cap
        body = {
            "capture_id": cap.capture_id,
            "authorization_id": authorization_id,
            "shipment_id": req.shipment_id,
            "amount": _money(req.amount),
            "captured_total": _money(auth.captured),
        }
        return Outcome(201, body, subject=f"capture:{req.shipment_id}")

    def void(self, authorization_id: str, payload: dict[str, Any]) -> Outcome:
        VoidAuthorization.model_validate(payload)
        auth = self.auths.get(authorization_id)
        if auth is None:
            return Outcome(404, {"error": f"no authorization {authorization_id}"})
        released = auth.amount - auth.captured
        body = {
            "authorization_id": authorization_id,
            "released": _money(released),
            "status": "voided",
        }
        if auth.status == "voided":
            # Voiding twice releases nothing more.
            return Outcome(200, body | {"released": _money(Money.zero(released.currency))})
        auth.status = "voided"
        return Outcome(200, body, subject=f"void:{authorization_id}")

    def refund(self, capture_id: str, payload: dict[str, Any]) -> Outcome:
        req = Refund.model_validate(payload)
        cap = self.captures.get(capture_id)
        if cap is None:
            return Outcome(404, {"error": f"no capture {capture_id}"})
        if req.amount.currency != cap.amount.currency:
            return Outcome(422, {"error": f"capture is in {cap.amount.currency}"})
        if req.amount.amount <= Decimal(0):
            return Outcome(422, {"error": "amount must be positive"})
        refundable = cap.amount - cap.refunded
        if req.amount.amount > refundable.amount:
            return Outcome(409, {"error": f"refund {req.amount} exceeds refundable {refundable}"})
        cap.refunded = cap.refunded + req.amount
        body = {
            "refund_id": self._id("ref"),
            "capture_id": capture_id,
            "amount": _money(req.amount),
            "refunded_total": _money(cap.refunded),
        }
        return Outcome(201, body, subject=f"refund:{req.order_id}:{req.seq}")

    def reset(self) -> None:
        self.auths.clear()
        self.captures.clear()
