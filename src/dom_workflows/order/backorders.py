"""The order's side of backorders: hand waiting units to a BackorderWorkflow child, make them
routable again when it says stock arrived, and report what is still waiting at its deadline
(the order cancels those units). Backordered units are pre-ordered against inbound supply (POs,
transfers) first come first served; the order shows their expected dates in `state.backorders`."""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from dom_workflows.common.retry import DATABASE

with workflow.unsafe.imports_passed_through():
    from activities.inventory.inbound_activities import InboundActivities
    from dom_workflows.backorder.models import (
        BackorderInput,
        BackorderResult,
        ExtendDeadline,
        SetRemaining,
        backorder_workflow_id,
    )
    from dom_workflows.backorder.workflows import BackorderWorkflow
    from dom_workflows.common.text import count
    from dom_workflows.inventory.inbound import (
        AllocateBackorders,
        BackorderLine,
        BackorderPromise,
        InboundNotice,
    )
    from dom_workflows.order.book import OrderBook


class Backorders:
    def __init__(self, book: OrderBook) -> None:
        self._book = book
        self._child: ChildWorkflowHandle[BackorderWorkflow, BackorderResult] | None = None
        self._waiter: asyncio.Task[None] | None = None
        self.open = False  # the child runs: the order is not done while it waits
        self.woken: list[str] = []  # SKUs whose stock arrived, in arrival order
        self.expired: dict[str, int] = {}  # sku -> units the deadline gave up on
        self.recheck: list[str] = []  # inbound that changed since the dates were read
        self._deadline: datetime | None = None  # the child's, once started

    def inbound_changed(self, notice: InboundNotice) -> None:
        if notice.inbound not in self.recheck:
            self.recheck.append(notice.inbound)
            self._book.event("inbound", f"inbound {notice.inbound} {notice.change}")

    async def promise(self) -> None:
        """Pre-order the backordered units against inbound supply (and give back pre-orders of
        units no longer backordered), then show each unit's expected date. The caller holds
        the order's lock."""
        self.recheck.clear()
        st = self._book.state
        if not st.backorders and not any(ln.backordered for ln in st.lines):
            return  # never backordered: nothing to pre-order or give back
        shown = await workflow.execute_activity_method(
            InboundActivities.allocate_backorders,
            AllocateBackorders(
                order_id=st.order_id,
                lines=[
                    BackorderLine(line_id=ln.line_id, sku=ln.sku, backordered=ln.backordered)
                    for ln in st.lines
                ],
            ),
            **DATABASE,
            summary=f"pre-order {count(sum(ln.backordered for ln in st.lines), 'unit')} "
            "against inbound",
        )
        if shown != st.backorders:
            st.backorders = shown
            self._book.event("promised", _dates(shown))
        await self._wait_for_inbound(shown)

    async def _wait_for_inbound(self, shown: list[BackorderPromise]) -> None:
        """Units pre-ordered against inbound expected after the backorder deadline wait for it:
        the deadline moves to the latest expected date plus the policy's backorder deadline
        (never earlier), so a pre-order is not cancelled before its stock can arrive."""
        dated = [(p.expected_at, p.inbound) for p in shown if p.expected_at and not p.arrived]
        if not dated or self._child is None or not self.open or self._deadline is None:
            return
        expected, inbound = max(dated, key=lambda d: d[0])
        wanted = expected + self._book.policy.backorder_deadline
        if wanted <= self._deadline:
            return
        self._deadline = wanted
        reason = f"{inbound} is expected {expected:%Y-%m-%d}"
        await self._child.signal(
            BackorderWorkflow.extend_deadline, ExtendDeadline(deadline=wanted, reason=reason)
        )
        self._book.event("backorder", f"backorder deadline moved to {wanted:%Y-%m-%d}: {reason}")

    def stock_arrived(self, sku: str) -> None:
        if sku not in self.woken:
            self.woken.append(sku)
            self._book.event("stock", f"stock of {sku} arrived for the backorder")

    def make_routable(self, sku: str) -> int:
        """Backordered units of a SKU become pending again so the next routing covers them."""
        moved = 0
        for ln in self._book.state.lines:
            if ln.sku == sku and ln.backordered:
                moved += ln.backordered
                ln.backordered = 0
        return moved

    def expiry_plan(self) -> dict[str, int]:
        """line -> backordered units of the SKUs the deadline gave up on (taken once)."""
        expired, self.expired = self.expired, {}
        return {
            ln.line_id: ln.backordered
            for ln in self._book.state.lines
            if ln.backordered and expired.get(ln.sku)
        }

    def _by_sku(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for ln in self._book.state.lines:
            totals[ln.sku] = totals.get(ln.sku, 0) + ln.backordered
        return totals

    async def sync(self, woken_sku: str | None = None) -> None:
        """Start the child for newly backordered units, or tell it the new totals."""
        totals = self._by_sku()
        if self._child is None:
            waiting = {sku: qty for sku, qty in sorted(totals.items()) if qty > 0}
            if waiting:
                await self._start(waiting)
        elif self.open:
            for sku, qty in sorted(totals.items()):
                await self._child.signal(
                    BackorderWorkflow.set_remaining,
                    SetRemaining(sku=sku, remaining=qty, after_wake=sku == woken_sku),
                )
        await self.promise()

    async def units_cancelled(self, sku: str) -> None:
        await self.promise()
        if self._child is not None and self.open:
            await self._child.signal(
                BackorderWorkflow.set_remaining,
                SetRemaining(sku=sku, remaining=self._by_sku().get(sku, 0)),
            )

    async def _start(self, waiting: dict[str, int]) -> None:
        book = self._book
        deadline = workflow.now() + book.policy.backorder_deadline
        self._deadline = deadline
        wid = backorder_workflow_id(book.order_id)
        self._child = await workflow.start_child_workflow(
            BackorderWorkflow.run,
            BackorderInput(
                order_id=book.order_id,
                order_workflow_id=book.state.workflow_id,
                remaining=waiting,
                deadline=deadline,
            ),
            id=wid,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            static_summary=(
                f"Backorder for order {book.order_id}: "
                + ", ".join(f"{q} x {s}" for s, q in waiting.items())
                + f"; deadline {deadline:%Y-%m-%d}"
            )[:200],
        )
        self.open = True
        book.state.backorder_workflow_id = wid
        book.event("backorder", f"{count(sum(waiting.values()), 'unit')} wait for stock in {wid}")
        self._waiter = asyncio.create_task(self._await_child())

    async def _await_child(self) -> None:
        assert self._child is not None
        result = await self._child
        self.expired = dict(result.expired)
        self.open = False  # the child has ended: nothing more to tell it


def _dates(shown: list[BackorderPromise]) -> str:
    if not shown:
        return "no units backordered any more"
    parts = []
    for p in shown:
        if p.arrived:
            parts.append(f"{p.qty} x {p.sku} arrived with {p.inbound}")
        elif p.expected_at is not None:
            parts.append(f"{p.qty} x {p.sku} expected {p.expected_at:%Y-%m-%d} ({p.inbound})")
        else:
            parts.append(f"{p.qty} x {p.sku} without a date")
    return ("backorders: " + "; ".join(parts))[:500]
