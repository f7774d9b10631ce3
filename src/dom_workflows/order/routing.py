"""Routing inside the order: reserve and route whatever units still need a node, turn the
plan into shipments, and decide what happens to units no node could take."""

from __future__ import annotations

from temporalio import workflow

from dom_workflows.common.retry import DATABASE

with workflow.unsafe.imports_passed_through():
    from activities.inventory.activities import InventoryActivities
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.common.text import units
    from dom_workflows.insight.models import outcome_of
    from dom_workflows.inventory.models import (
        OrderToRoute,
        ReserveAndRouteInput,
        ReserveAndRouteResult,
        SourcingLine,
        ValidatedOrder,
    )
    from dom_workflows.order import state as bk
    from dom_workflows.order.backorders import Backorders
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.cancellation import Cancellation
    from dom_workflows.order.models import RouteSummary, Shipment, ShipmentStatus
    from dom_workflows.order.undo import Undo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Routing:
    def __init__(
        self,
        book: OrderBook,
        destination: ValidatedOrder,
        backorders: Backorders,
        cancellation: Cancellation,
        undo: Undo,
    ) -> None:
        self._book = book
        self._destination = destination
        self._backorders = backorders
        self._cancellation = cancellation
        self._undo = undo
        self._attempt = 0
        self.excluded: dict[str, str] = {}  # node -> why it gets no more of this order
        self.needed = True  # some units need a node

    async def reroute(self, sh: Shipment, reason: str) -> None:
        """The node will not ship this request: its units go back to ATP and to another node."""
        await self._undo.release(sh.shipment_id, reason, outcome=outcome_of(sh, workflow.now()))
        for sl in sh.lines:
            self._book.line(sl.line_id).allocated -= sl.qty
        self.excluded[sh.node] = reason
        self.needed = True

    async def reroute_lines(self, sh: Shipment, lines: list[ShipmentLine], reason: str) -> None:
        """A node refused some lines of a request: move exactly those units elsewhere."""
        if not sh.status.is_open:
            return
        for rl in lines:
            sl = next((x for x in sh.lines if x.line_id == rl.line_id), None)
            n = min(rl.qty, sl.qty) if sl else 0
            if sl is None or n <= 0:
                continue
            await self._undo.release(
                sh.shipment_id, f"rejected by {sh.node}: {reason}", sl.line_id, n
            )
            sl.qty -= n
            self._book.line(sl.line_id).allocated -= n
        self.excluded[sh.node] = f"rejected lines: {reason}"
        self.needed = True
        if sh.units == 0:
            sh.status, sh.reason = ShipmentStatus.REJECTED, reason

    def pending(self) -> list[SourcingLine]:
        return [
            SourcingLine(
                line_id=ln.line_id,
                sku=ln.sku,
                qty=bk.pending_units(ln),
                unit_price=ln.unit_price.amount,
            )
            for ln in self._book.state.lines
            if bk.pending_units(ln) > 0
        ]

    async def route(self, *, from_backorder: bool = False) -> list[Shipment]:
        """Reserve and route the pending units; the new shipments to follow. The caller holds
        the order's lock."""
        self.needed = False
        book = self._book
        pending = self.pending()
        if book.terminal() or not pending:
            return []
        if self._attempt >= book.policy.max_route_attempts and not from_backorder:
            await self._out_of_attempts(pending)
            return []
        self._attempt += 1
        excluding = f", excluding {', '.join(sorted(self.excluded))}" if self.excluded else ""
        result = await workflow.execute_local_activity_method(
            InventoryActivities.reserve_and_route,
            ReserveAndRouteInput(
                order=OrderToRoute.of(book.order),
                destination=self._destination,
                attempt=self._attempt,
                lines=pending,
                excluded_nodes=dict(self.excluded),
                weekday=WEEKDAYS[workflow.now().weekday()],
                requested_at=workflow.now(),
            ),
            **DATABASE,
            summary=f"reserve & route attempt {self._attempt}: "
            f"{units(sum(s.qty for s in pending))}{excluding}",
        )
        now = workflow.now()
        new = [
            Shipment(
                shipment_id=f.shipment_id,
                node=f.node,
                node_type=f.node_type,
                lines=f.lines,
                requested_lines=[sl.model_copy() for sl in f.lines],
                service=f.service,
                route_attempt=result.attempt,
                sla=f.sla,
                requested_at=now,
                ship_from=f.ship_from,
                billable_lb=f.billable_lb,
            )
            for f in result.fulfillments
        ]
        for sh in new:
            for sl in sh.lines:
                book.line(sl.line_id).allocated += sl.qty
        book.state.shipments.extend(new)
        for b in result.backordered:
            # Never more than the line has unaccounted for: a stored plan (below) may have
            # been made for other units than this call asked for.
            ln = book.line(b.line_id)
            ln.backordered += min(b.qty, max(bk.pending_units(ln), 0))
        book.state.routes.append(
            RouteSummary(
                attempt=result.attempt,
                strategy=result.strategy,
                total_cost=result.total_cost,
                summary=result.summary,
                shipments=[f.shipment_id for f in result.fulfillments],
                backordered=result.backordered,
            )
        )
        book.event("routed", f"attempt {result.attempt}: {result.summary}")
        unwaited = (
            await self._adopt_stored_plan(result, pending, new)
            if (_covered(result) != {s.line_id: s.qty for s in pending})
            else 0
        )
        book.refresh()
        if (result.backordered or unwaited) and not from_backorder:
            await self._backorders.sync()
        return new

    async def _adopt_stored_plan(
        self, result: ReserveAndRouteResult, asked: list[SourcingLine], new: list[Shipment]
    ) -> int:
        """The attempt answered with a plan for other units than it asked for: an earlier try of
        this workflow task (a worker killed after the local activity committed) reserved it, and
        the retried task saw more (another rejection, a backorder's wake). What the ledger
        reserved is the truth: units it reserved that the state had waiting for stock stop
        waiting, units beyond what a line still needs are released, and units it did not cover
        are routed again (the next loop, another attempt). Returns the units no longer waiting."""
        book = self._book
        book.event(
            "routed",
            f"attempt {result.attempt} had been reserved by an earlier try of this step "
            f"for other units ({_describe(_covered(result))}; asked "
            f"{_describe({s.line_id: s.qty for s in asked})}): adopted as reserved",
        )
        unwaited = 0
        for ln in book.state.lines:
            over = -bk.pending_units(ln)
            if over > 0 and ln.backordered:
                take = min(over, ln.backordered)
                ln.backordered -= take
                unwaited += take
                over -= take
            for sh in new:
                sl = next((x for x in sh.lines if x.line_id == ln.line_id), None)
                if over <= 0 or sl is None or sl.qty == 0:
                    continue
                n = min(over, sl.qty)
                reason = f"attempt {result.attempt} had reserved more than line {ln.line_id} needs"
                await self._undo.release(sh.shipment_id, reason, ln.line_id, n)
                sl.qty -= n
                ln.allocated -= n
                over -= n
                if sh.units == 0:  # nothing of it is needed: its follower ends it unsent
                    sh.status, sh.reason = ShipmentStatus.CANCELLED, reason
            if bk.pending_units(ln) > 0:
                self.needed = True  # not covered by the stored plan: route it again
        return unwaited

    async def _out_of_attempts(self, pending: list[SourcingLine]) -> None:
        book = self._book
        what = f"{units(sum(s.qty for s in pending))} found no node after {self._attempt} routing attempts"
        if book.policy.after_max_attempts == "cancel":
            await self._cancellation.cancel(
                {s.line_id: s.qty for s in pending}, what, "routing policy"
            )
            return
        for sl in pending:
            book.line(sl.line_id).backordered += sl.qty
        book.event("backordered", what)
        book.refresh()
        await self._backorders.sync()


def _covered(result: ReserveAndRouteResult) -> dict[str, int]:
    """line -> units a routing result accounts for (reserved or backordered)."""
    out: dict[str, int] = {}
    for sl in [ln for f in result.fulfillments for ln in f.lines] + result.backordered:
        out[sl.line_id] = out.get(sl.line_id, 0) + sl.qty
    return out


def _describe(per_line: dict[str, int]) -> str:
    return ", ".join(f"line {k}: {units(v)}" for k, v in sorted(per_line.items())) or "nothing"
