"""Property: whatever order the provider's answers come back in, the order's payment book
(PaymentSummary) equals the sums of its recorded operations, never charges past the
authorization, and agrees with the provider (the simulator's PaymentProvider) at the end.

The driver does what the order workflow's Payments does with each answer: a capture is recorded
under `capture:<shipment>` with its own amount, the release is the book's uncaptured remainder,
a refund is recorded under `refund:<order>:<seq>`. Steps interleave at random: captures sent,
their answers delivered in any order, retried captures answered from the provider's idempotency
record (the older running total), partial and full cancels of units not yet shipped, refunds on
captured shipments, and the void when the order closes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_workflows.money import Money
from dom_workflows.order.models import PaymentOperation, PaymentOperationKind, PaymentSummary
from dom_workflows.payment.models import (
    Authorize,
    Capture,
    CaptureResult,
    Refund,
    RefundResult,
    VoidAuthorization,
    VoidResult,
)
from workers.simulator.payments import PaymentProvider

ORDER = "P-1"
MAX_REFUNDS = 4  # a few returns: enough to interleave, few enough to end
AT = datetime(2026, 1, 1, tzinfo=UTC)


def usd(cents: int) -> Money:
    return Money(amount=Decimal(cents) / 100, currency="USD")


@dataclass
class Shipment:
    shipment_id: str
    unit_cents: int
    units: int
    cancelled: int = 0
    capture_id: str | None = None
    sent: bool = False

    @property
    def value(self) -> Money:
        return usd(self.unit_cents * (self.units - self.cancelled))


@dataclass
class Run:
    provider: PaymentProvider
    book: PaymentSummary
    shipments: list[Shipment]
    # Captures the provider applied whose answers have not reached the workflow yet.
    in_flight: list[tuple[Capture, CaptureResult]] = field(default_factory=list)
    # Captures answered once, whose retry may still come: key -> the first answer.
    answered: dict[str, CaptureResult] = field(default_factory=dict)
    refunds: int = 0
    closed: bool = False

    def record(self, kind: PaymentOperationKind, key: str, amount: Money, **kw: str | None) -> None:
        self.book.record(PaymentOperation(kind=kind, key=key, amount=amount, at=AT, **kw))

    def send_capture(self, sh: Shipment) -> None:
        assert self.book.authorization_id is not None
        req = Capture(
            authorization_id=self.book.authorization_id,
            order_id=ORDER,
            shipment_id=sh.shipment_id,
            amount=sh.value,
        )
        out = self.provider.capture(self.book.authorization_id, req.model_dump(mode="json"))
        assert out.status == 201, out.body
        sh.sent = True
        result = CaptureResult.model_validate(out.body)
        self.answered[req.idempotency_key()] = result
        self.in_flight.append((req, result))

    def deliver(self, index: int) -> None:
        req, result = self.in_flight.pop(index)
        self._on_capture(req, result)

    def retry_answered(self, index: int) -> None:
        """A retried capture: the provider replays the first answer, stale total included."""
        result = self.answered.pop(sorted(self.answered)[index])
        sh = next(s for s in self.shipments if s.shipment_id == result.shipment_id)
        req = Capture(
            authorization_id=result.authorization_id,
            order_id=ORDER,
            shipment_id=sh.shipment_id,
            amount=result.amount,
        )
        self._on_capture(req, result)

    def _on_capture(self, req: Capture, result: CaptureResult) -> None:
        sh = next(s for s in self.shipments if s.shipment_id == req.shipment_id)
        sh.capture_id = result.capture_id
        self.record(
            "capture",
            req.idempotency_key(),
            result.amount,
            reference=result.capture_id,
            shipment_id=sh.shipment_id,
        )

    def cancel(self, sh: Shipment, units: int) -> None:
        sh.cancelled += units

    def refund(self, sh: Shipment, cents: int) -> None:
        assert sh.capture_id is not None
        self.refunds += 1
        req = Refund(capture_id=sh.capture_id, order_id=ORDER, seq=self.refunds, amount=usd(cents))
        out = self.provider.refund(sh.capture_id, req.model_dump(mode="json"))
        assert out.status == 201, out.body
        result = RefundResult.model_validate(out.body)
        self.record("refund", req.idempotency_key(), result.amount, reference=result.refund_id)

    def close(self) -> VoidResult | None:
        assert self.book.authorization_id is not None
        self.closed = True
        remainder = self.book.uncaptured
        if remainder.amount <= 0:
            return None
        req = VoidAuthorization(authorization_id=self.book.authorization_id, order_id=ORDER)
        out = self.provider.void(self.book.authorization_id, req.model_dump(mode="json"))
        self.record("release", req.idempotency_key(), remainder)
        return VoidResult.model_validate(out.body)


def start(shipments: list[tuple[int, int]]) -> Run:
    provider = PaymentProvider(random.Random(0))
    ships = [Shipment(f"{ORDER}:{i}:wh", c, u) for i, (c, u) in enumerate(shipments, start=1)]
    value = sum((s.value for s in ships), start=usd(0))
    req = Authorize(order_id=ORDER, amount=value, customer_id="C-1")
    out = provider.authorize(req.model_dump(mode="json"))
    book = PaymentSummary(currency="USD", authorization_id=out.body["authorization_id"])
    run = Run(provider, book, ships)
    run.record("authorize", req.idempotency_key(), value, reference=book.authorization_id)
    return run


def check_book(run: Run) -> None:
    book = run.book
    sums: dict[str, Decimal] = {}
    for op in book.operations:
        sums[op.kind] = sums.get(op.kind, Decimal(0)) + op.amount.amount
    assert len({op.key for op in book.operations}) == len(book.operations)
    assert book.captured.amount == sums.get("capture", 0)
    assert book.released.amount == sums.get("release", 0)
    assert book.refunded.amount == sums.get("refund", 0)
    assert book.authorized.amount == sums["authorize"]
    assert book.captured.amount + book.released.amount <= book.authorized.amount
    assert book.refunded.amount <= book.captured.amount
    # One capture per shipment, each at what its shipment recorded.
    captured = {op.shipment_id: op.amount for op in book.operations if op.kind == "capture"}
    assert sum(m.amount for m in captured.values()) == book.captured.amount
    # The provider never holds less than the book says (answers may still be on their way).
    auth = run.provider.auths[book.authorization_id or ""]
    assert book.captured.amount <= auth.captured.amount


SHIPMENTS = st.lists(st.tuples(st.integers(1, 40_000), st.integers(1, 4)), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shipments=SHIPMENTS, data=st.data())
def test_the_book_is_the_sum_of_its_operations_and_agrees_with_the_provider(
    shipments: list[tuple[int, int]], data: st.DataObject
) -> None:
    run = start(shipments)
    check_book(run)
    while True:
        moves: list[str] = []
        unsent = [s for s in run.shipments if not s.sent and s.cancelled < s.units]
        if unsent:
            moves += ["capture", "cancel"]
        if run.in_flight:
            moves.append("deliver")
        if run.answered:
            moves.append("retry")
        refundable = [
            s
            for s in run.shipments
            if s.capture_id
            and run.provider.captures[s.capture_id].refunded.amount < s.value.amount
            and run.refunds < MAX_REFUNDS
        ]
        if refundable:
            moves.append("refund")
        if not moves:
            break
        move = data.draw(st.sampled_from(moves), label="move")
        if move == "capture":
            run.send_capture(data.draw(st.sampled_from(unsent), label="ship"))
        elif move == "cancel":  # partial or full, of what has not shipped
            sh = data.draw(st.sampled_from(unsent), label="cancel")
            run.cancel(sh, data.draw(st.integers(1, sh.units - sh.cancelled), label="units"))
        elif move == "deliver":
            run.deliver(data.draw(st.integers(0, len(run.in_flight) - 1), label="answer"))
        elif move == "retry":
            run.retry_answered(data.draw(st.integers(0, len(run.answered) - 1), label="retry"))
        else:
            sh = data.draw(st.sampled_from(refundable), label="refund")
            cap = run.provider.captures[sh.capture_id or ""]
            left = int((cap.amount - cap.refunded).amount * 100)
            run.refund(sh, data.draw(st.integers(1, left), label="cents"))
        check_book(run)
    voided = run.close()
    check_book(run)

    book, auth = run.book, run.provider.auths[run.book.authorization_id or ""]
    assert book.captured == auth.captured
    assert book.refunded.amount == sum(r.amount.amount for r in run.provider.refunds.values())
    assert book.captured + book.released == book.authorized
    if voided is not None:
        assert voided.released == book.released and auth.status == "voided"
    else:
        assert book.released.amount == 0 and auth.status == "captured"
    expected = sum((s.value for s in run.shipments), start=usd(0))
    assert book.captured == expected  # every shipment's remaining units, once
