"""The payment provider: authorizations, captures, voids and refunds, all in Decimal.

Invariants enforced like a real provider: captured <= authorized, refunded <= captured, no
capture after a void, one currency per authorization. A capture can itself be voided (before it
settles, as card processors allow): its amount is no longer charged. Every record keeps when it
was made and last changed, for the provider's listings (reconciliation).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dom_workflows.money import Money
from dom_workflows.payment.models import Authorize, Capture, Refund, VoidAuthorization
from workers.simulator.idempotency import Outcome

# Test tokens, as card networks' sandboxes have them.
DECLINED_TOKENS = {"tok_declined", "tok_insufficient_funds"}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Auth:
    authorization_id: str
    order_id: str
    amount: Money
    captured: Money
    status: str = "authorized"
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)

    def view(self) -> dict[str, Any]:
        return {
            "authorization_id": self.authorization_id,
            "order_id": self.order_id,
            "amount": self.amount.model_dump(mode="json"),
            "captured": self.captured.model_dump(mode="json"),
            "status": self.status,
        }

    def record(self) -> dict[str, Any]:
        return self.view() | {
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass
class CaptureRecord:
    capture_id: str
    authorization_id: str
    shipment_id: str
    amount: Money
    refunded: Money
    order_id: str = ""
    status: str = "captured"  # captured | voided
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)

    def record(self) -> dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "authorization_id": self.authorization_id,
            "order_id": self.order_id,
            "shipment_id": self.shipment_id,
            "amount": _money(self.amount),
            "refunded": _money(self.refunded),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass
class RefundRecord:
    refund_id: str
    capture_id: str
    order_id: str
    seq: int
    amount: Money
    created_at: datetime = field(default_factory=_now)

    def record(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "capture_id": self.capture_id,
            "order_id": self.order_id,
            "seq": self.seq,
            "amount": _money(self.amount),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.created_at.isoformat(),
        }


def _money(m: Money) -> dict[str, Any]:
    return m.model_dump(mode="json")


class PaymentProvider:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.auths: dict[str, Auth] = {}
        self.captures: dict[str, CaptureRecord] = {}
        self.refunds: dict[str, RefundRecord] = {}

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
        auth.updated_at = _now()
        cap = CaptureRecord(
            self._id("cap"),
            authorization_id,
            req.shipment_id,
            req.amount,
            Money.zero(req.amount.currency),
            order_id=req.order_id,
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
        auth.updated_at = _now()
        return Outcome(200, body, subject=f"void:{authorization_id}")

    def void_capture(self, capture_id: str, payload: dict[str, Any]) -> Outcome:
        """Cancel a capture before it settles: the customer is no longer charged for it. Only a
        capture with nothing refunded can be voided; voiding twice changes nothing more."""
        cap = self.captures.get(capture_id)
        if cap is None:
            return Outcome(404, {"error": f"no capture {capture_id}"})
        body = cap.record()
        if cap.status == "voided":
            return Outcome(200, body)
        if cap.refunded.amount > 0:
            return Outcome(409, {"error": f"capture {capture_id} has refunds; refund the rest"})
        cap.status = "voided"
        cap.updated_at = _now()
        auth = self.auths.get(cap.authorization_id)
        if auth is not None:
            auth.captured = auth.captured - cap.amount
            auth.updated_at = cap.updated_at
        return Outcome(200, cap.record(), subject=f"void-capture:{capture_id}")

    def refund(self, capture_id: str, payload: dict[str, Any]) -> Outcome:
        req = Refund.model_validate(payload)
        cap = self.captures.get(capture_id)
        if cap is None:
            return Outcome(404, {"error": f"no capture {capture_id}"})
        if cap.status == "voided":
            return Outcome(409, {"error": f"capture {capture_id} is voided"})
        if req.amount.currency != cap.amount.currency:
            return Outcome(422, {"error": f"capture is in {cap.amount.currency}"})
        if req.amount.amount <= Decimal(0):
            return Outcome(422, {"error": "amount must be positive"})
        refundable = cap.amount - cap.refunded
        if req.amount.amount > refundable.amount:
            return Outcome(409, {"error": f"refund {req.amount} exceeds refundable {refundable}"})
        cap.refunded = cap.refunded + req.amount
        cap.updated_at = _now()
        ref = RefundRecord(self._id("ref"), capture_id, req.order_id, req.seq, req.amount)
        self.refunds[ref.refund_id] = ref
        body = {
            "refund_id": ref.refund_id,
            "capture_id": capture_id,
            "amount": _money(req.amount),
            "refunded_total": _money(cap.refunded),
        }
        return Outcome(201, body, subject=f"refund:{req.order_id}:{req.seq}")

    def reset(self) -> None:
        self.auths.clear()
        self.captures.clear()
        self.refunds.clear()
