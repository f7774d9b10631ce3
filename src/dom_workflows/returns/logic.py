"""Pure bookkeeping of an RMA: grading a receipt, planning refunds per capture, the exchange's
replacement order, the UI details. No Temporal calls and no I/O, so the workflow can use it and
tests can check it directly."""

from __future__ import annotations

from decimal import Decimal

from dom_workflows.common.text import count
from dom_workflows.money import Money
from dom_workflows.order.markdown import code_table
from dom_workflows.order.models import OrderLine, OrderRequest
from dom_workflows.returns.models import (
    GRADES,
    ExchangeLine,
    GradedLine,
    OpenedReturn,
    ReturnLineState,
    ReturnReceipt,
    ReturnState,
)


def receipt_problems(lines: list[ReturnLineState], receipt: ReturnReceipt) -> list[str]:
    """Why a receipt does not fit the RMA (unknown lines, more units than authorised)."""
    authorised = {ln.line_id: ln.qty for ln in lines}
    totals: dict[str, int] = {}
    for r in receipt.lines:
        totals[r.line_id] = totals.get(r.line_id, 0) + r.qty
    problems = [f"line {lid} is not on {receipt.rma_id}" for lid in totals if lid not in authorised]
    problems += [
        f"line {lid}: {count(n, 'unit')} received but {authorised[lid]} authorised"
        for lid, n in totals.items()
        if lid in authorised and n > authorised[lid]
    ]
    return problems


def grade(lines: list[ReturnLineState], receipt: ReturnReceipt) -> list[GradedLine]:
    """Units received per line and grade, capped at what the RMA authorised (first come first
    counted; the workflow escalates anything over)."""
    out: list[GradedLine] = []
    for ln in lines:
        g = GradedLine(line_id=ln.line_id, sku=ln.sku, received=0)
        room = ln.qty
        for r in receipt.lines:
            if r.line_id != ln.line_id or room == 0:
                continue
            take = min(r.qty, room)
            room -= take
            setattr(g, r.grade, getattr(g, r.grade) + take)
        g.received = sum(getattr(g, name) for name in GRADES)
        out.append(g)
    return out


def refund_plan(
    opened: OpenedReturn, graded: list[GradedLine]
) -> tuple[list[tuple[str, Money]], Money]:
    """(capture id, amount) to refund, in a stable order, and what no capture covers (manual).

    The received units of each line are taken from the line's allocations in order, so each
    unit is refunded against the capture of the shipment it was delivered in, at the line's net
    price with tax (OrderLine.value_of)."""
    zero = Money.zero(opened.currency)
    per_capture: dict[str, Money] = {}
    manual = zero
    received = {g.line_id: g.received for g in graded}
    for ln in opened.lines:
        left = received.get(ln.line_id, 0)
        for alloc in ln.allocations:
            take = min(alloc.qty, left)
            left -= take
            if take == 0:
                continue
            value = ln.value_of(take)  # the line's net price, tax included
            if alloc.capture_id is None:
                manual = manual + value
            else:
                per_capture[alloc.capture_id] = per_capture.get(alloc.capture_id, zero) + value
    plan = [(cid, amount) for cid, amount in per_capture.items() if amount.amount > 0]
    return plan, manual


def replacement_order(
    original: OrderRequest, *, order_id: str, rma_id: str, currency: str, lines: list[ExchangeLine]
) -> OrderRequest:
    """The exchange: a zero-value order (the order workflow takes no payment for it) for the
    same customer, address, channel and delivery as the original order."""
    zero = Money(amount=Decimal("0.00"), currency=currency)
    return original.model_copy(
        update={
            "order_id": order_id,
            "external_id": None,
            "lines": [
                OrderLine(line_id=str(i + 1), sku=x.sku, qty=x.qty, unit_price=zero)
                for i, x in enumerate(lines)
            ],
            "tags": [*original.tags, "exchange", f"rma:{rma_id}"],
            "placed_at": None,
            "payment_token": None,
            # The original's money is not the replacement's: it is worth nothing.
            "paid": None,
            "shipping": None,
            "tax_total": None,
            "discount_total": None,
            "grand_total": None,
        }
    )


def replacement_summary(order: OrderRequest, rma_id: str) -> str:
    """The replacement order's one-line summary in the Temporal UI."""
    units = sum(ln.qty for ln in order.lines)
    return (
        f"Order {order.order_id} · exchange for {rma_id} · {order.channel} · "
        f"{count(len(order.lines), 'line')} / {count(units, 'unit')} · {order.customer.tier}"
    )[:200]


def _dispositions(ln: ReturnLineState) -> str:
    return f"{ln.resell}/{ln.refurbish}/{ln.scrap}"


def details_markdown(st: ReturnState) -> str:
    parts = [
        f"**{st.rma_id}** of order {st.order_id} · **{st.status.value}**"
        + (" · exchange" if st.exchange else ""),
        f"**Return to** {st.return_node or '?'}"
        + (f" by {st.deadline:%Y-%m-%d %H:%M} UTC" if st.deadline else ""),
    ]
    if st.label:
        parts.append(f"**Label** {st.label.carrier} {st.label.tracking}")
    if st.refunded:
        parts.append(f"**Refunded** {st.refunded}")
    if st.manual_refund:
        parts.append(f"**To refund manually** {st.manual_refund}")
    if st.exchange_order_id:
        parts.append(f"**Replacement order** {st.exchange_order_id}")
    table = code_table(
        ["line", "sku", "qty", "received", "resell/refurbish/scrap", "restocked"],
        [
            [ln.line_id, ln.sku, ln.qty, ln.received, _dispositions(ln), ln.restocked]
            for ln in st.lines
        ],
    )
    return "  \n".join(parts) + "\n\n" + table
