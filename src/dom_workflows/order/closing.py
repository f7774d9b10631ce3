"""How an order ends: its final status, the saga that undoes everything when it stops early,
and the last step of every path, which leaves nothing reserved in the ledger."""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dom_workflows.common.retry import DATABASE

with workflow.unsafe.imports_passed_through():
    from activities.inventory.activities import InventoryActivities
    from dom_workflows.common.errors import failure_cause
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.common.text import units
    from dom_workflows.insight.models import OrderClosing, outcome_of
    from dom_workflows.inventory.models import CloseOrderInput, CloseOrderResult
    from dom_workflows.order import state as bk
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.models import OrderStatus, ShipmentStatus
    from dom_workflows.order.payments import Payments
    from dom_workflows.order.undo import Undo


class Closing:
    def __init__(self, book: OrderBook, undo: Undo, payments: Payments) -> None:
        self._book = book
        self._undo = undo
        self._payments = payments

    def finish(self) -> None:
        """Every shipment has settled: completed (with notes) or, if nothing is left, cancelled."""
        book = self._book
        if book.terminal():
            return
        lines = book.state.lines
        if all(ln.cancelled == ln.qty for ln in lines):
            book.stop(OrderStatus.CANCELLED, "every unit was cancelled")
            return
        notes = []
        if backordered := sum(ln.backordered for ln in lines):
            notes.append(f"{units(backordered)} backordered")
        if undelivered := sum(ln.shipped - ln.delivered for ln in lines):
            notes.append(f"{units(undelivered)} shipped without delivery confirmation")
        book.state.status, book.state.stop_reason = OrderStatus.COMPLETED, "; ".join(notes) or None
        book.event("completed", "order complete" + (f" ({'; '.join(notes)})" if notes else ""))
        book.refresh()

    async def compensate(self, reason: str, status: OrderStatus) -> None:
        """Saga: cancel open requests at their nodes, release every unit, give the money back."""
        book = self._book
        book.winding_down = True
        try:
            for sh in bk.open_shipments(book.state):
                sh.status, sh.reason = ShipmentStatus.CANCELLED, reason
                try:
                    await self._undo.cancel_at_node(sh, reason)
                except ActivityError as e:
                    book.escalate(
                        f"could not cancel {sh.shipment_id} at {sh.node}: {failure_cause(e)}"
                    )
            await self._undo.release(None, reason)
            for ln in book.state.lines:
                ln.allocated = ln.shipped
            await self._payments.close(reason)
        finally:
            # Whatever went wrong above, the books are closed: no unit stays reserved.
            book.stop(status, reason)
            await self.close_books()

    async def close_books(self) -> None:
        """The last step of every path: nothing the order reserved stays reserved."""
        st = self._book.state
        closed = await workflow.execute_local_activity_method(
            InventoryActivities.close_order,
            CloseOrderInput(
                order_id=st.order_id,
                status=st.status.value,
                reason=st.stop_reason or "",
                closing=self._closing_record(),
            ),
            **DATABASE,
            summary=f"close the books of order {st.order_id} ({st.status.value})",
        )
        if closed.released_units:
            self._book.escalate(
                f"{units(closed.released_units)} still reserved when the order closed were released"
            )
        self._check_ledger(closed)

    def _check_ledger(self, closed: CloseOrderResult) -> None:
        """The ledger's shipments for this order (every routing attempt) are the order's own:
        one it never recorded means the order's picture and the ledger's drifted apart (a
        reservation made by a try whose answer was lost), so the node may hold a request and
        the provider a capture the order does not know of. Ops and reconciliation are told,
        with the evidence; it is never left silent."""
        known = {sh.shipment_id for sh in self._book.state.shipments}
        unknown: dict[str, list[str]] = {}
        for held in closed.shipments:
            if held.shipment_id not in known:
                unknown.setdefault(held.shipment_id, []).append(
                    f"{units(held.units)} {held.status}"
                )
        for sid, what in sorted(unknown.items()):
            self._book.escalate(
                f"the ledger holds shipment {sid} ({', '.join(what)}) that this order never "
                "recorded: check the node's requests and the provider's captures for it"
            )

    def _closing_record(self) -> OrderClosing:
        """The order's money and its shipments' last outcomes, for the insight records."""
        st, now = self._book.state, workflow.now()
        cancelled = [
            ShipmentLine(line_id=ln.line_id, sku=ln.sku, qty=ln.cancelled)
            for ln in st.lines
            if ln.cancelled
        ]
        cancelled_value = (
            self._payments.value_of_lines(cancelled).amount if cancelled else Decimal(0)
        )
        refunded = st.payment.refunded.amount if st.payment is not None else Decimal(0)
        if self._book.order.payment_mode == "channel":
            # A channel-paid order counts its cancelled units as refunded at the channel; they
            # are in cancelled_value already.
            refunded = max(refunded - cancelled_value, Decimal(0))
        return OrderClosing(
            status=st.status.value,
            closed_at=now,
            cancelled_units=sum(ln.cancelled for ln in st.lines),
            cancelled_value=cancelled_value,
            refunds=refunded,
            shipments=[outcome_of(sh, now) for sh in st.shipments],
        )
