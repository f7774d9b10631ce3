"""Cancelling units: first units not yet routed, then backordered ones, then units at nodes
(newest shipment first). A node is asked first and only what it agrees to cancel is released:
units it says are already shipped stay as they are, and ops are told."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from dom_workflows.common import errors
    from dom_workflows.common.errors import failure_cause
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.common.text import units
    from dom_workflows.order import state as bk
    from dom_workflows.order.backorders import Backorders
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.models import OrderStatus, Shipment, ShipmentStatus
    from dom_workflows.order.undo import Undo


class Cancellation:
    def __init__(self, book: OrderBook, undo: Undo, backorders: Backorders) -> None:
        self._book = book
        self._undo = undo
        self._backorders = backorders

    def everything(self) -> dict[str, int]:
        st = self._book.state
        return {
            ln.line_id: bk.cancellable_units(st, ln)
            for ln in st.lines
            if bk.cancellable_units(st, ln) > 0
        }

    async def cancel(
        self, plan: dict[str, int], reason: str, requested_by: str, *, must_cancel: bool = False
    ) -> tuple[list[ShipmentLine], int]:
        """Cancel `plan` (line -> units). With `must_cancel`, a cancellation every node
        refused raises a non-retryable CancelRefused. The caller holds the order's lock."""
        book = self._book
        why = f"{requested_by}: {reason}"
        local, takes = self._split(plan)
        shipments = {sh.shipment_id: sh for sh in bk.open_shipments(book.state)}
        refusals: list[str] = []
        for sid in list(takes):
            refusal = await self._at_node(shipments[sid], takes[sid], why, reason)
            if refusal:
                refusals.append(refusal)
                del takes[sid]
        cancelled: list[ShipmentLine] = []
        released = 0
        for line_id, (take, take_bo) in local.items():
            ln = book.line(line_id)
            ln.backordered -= take_bo
            done = take + take_bo
            for sid, by_line in takes.items():
                n = by_line.get(line_id, 0)
                if n:
                    released += await self._undo.release(sid, f"cancelled: {reason}", line_id, n)
                    sl = next(x for x in shipments[sid].lines if x.line_id == line_id)
                    sl.qty -= n
                    ln.allocated -= n
                    done += n
            ln.cancelled += done
            cancelled.append(ShipmentLine(line_id=line_id, sku=ln.sku, qty=done))
            if take_bo:
                await self._backorders.units_cancelled(ln.sku)
        for refusal in refusals:
            book.escalate(f"cancellation not done at the node: {refusal}")
        if must_cancel and refusals and not any(c.qty for c in cancelled):
            book.refresh()
            raise ApplicationError(
                "; ".join(refusals), type=errors.CANCEL_REFUSED, non_retryable=True
            )
        total = sum(c.qty for c in cancelled)
        book.event("cancelled", f"{units(total)} cancelled by {requested_by}: {reason}")
        if all(ln.cancelled == ln.qty for ln in book.state.lines):
            book.stop(OrderStatus.CANCELLED, f"cancelled by {requested_by}: {reason}")
        book.refresh()
        return cancelled, released

    def _split(
        self, plan: dict[str, int]
    ) -> tuple[dict[str, tuple[int, int]], dict[str, dict[str, int]]]:
        """Per line (units not yet routed, backordered units) and per open shipment the units
        to take from it, newest shipment first."""
        st = self._book.state
        local: dict[str, tuple[int, int]] = {}
        takes: dict[str, dict[str, int]] = {}
        newest_first = list(reversed(bk.open_shipments(st)))
        for line_id, qty in plan.items():
            ln = bk.line(st, line_id)
            take = min(qty, bk.pending_units(ln))
            take_bo = min(qty - take, ln.backordered)
            local[line_id] = (take, take_bo)
            remaining = qty - take - take_bo
            for sh in newest_first:
                for sl in sh.lines:
                    if remaining and sl.line_id == line_id and sl.qty:
                        n = min(sl.qty, remaining)
                        by_line = takes.setdefault(sh.shipment_id, {})
                        by_line[line_id] = by_line.get(line_id, 0) + n
                        remaining -= n
        return local, takes

    async def _at_node(
        self, sh: Shipment, by_line: dict[str, int], why: str, reason: str
    ) -> str | None:
        """Cancel or amend the request; the refusal, if the node would not."""
        left = [
            ShipmentLine(line_id=sl.line_id, sku=sl.sku, qty=sl.qty - by_line.get(sl.line_id, 0))
            for sl in sh.lines
        ]
        try:
            if sum(x.qty for x in left) == 0:
                await self._undo.cancel_at_node(sh, why)
                # Only now: a follower that saw it earlier would stop following a live request.
                if sh.status.is_open:
                    sh.status, sh.reason = ShipmentStatus.CANCELLED, reason
            else:
                await self._undo.amend_at_node(sh, [x for x in left if x.qty], why)
        except ActivityError as e:
            return f"{sh.node} refused for {sh.shipment_id}: {failure_cause(e)}"
        return None
