"""The order's side of backorders: hand waiting units to a BackorderWorkflow child, route them
when it says stock arrived, and cancel (and refund) what is still waiting at its deadline."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from dom_workflows.order.base import OrderBase

with workflow.unsafe.imports_passed_through():
    from dom_workflows.backorder.models import (
        BackorderInput,
        BackorderResult,
        SetRemaining,
        StockAvailable,
        backorder_workflow_id,
    )
    from dom_workflows.backorder.workflows import ORDER_STOCK_SIGNAL, BackorderWorkflow

BACKORDER_PATCH = "backorder-workflow-v1"


class BackordersMixin(OrderBase):
    _backorder: ChildWorkflowHandle[BackorderWorkflow, BackorderResult] | None = None
    _backorder_open = False
    _backorder_task: asyncio.Task[None] | None = None
    _stock_woken: list[str]

    def _backordered_by_sku(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for ln in self._state.lines:
            totals[ln.sku] = totals.get(ln.sku, 0) + ln.backordered
        return totals

    async def _sync_backorder(self, woken_sku: str | None = None) -> None:
        """Start the child for newly backordered units, or tell it the new totals."""
        totals = self._backordered_by_sku()
        if self._backorder is None:
            waiting = {sku: qty for sku, qty in totals.items() if qty > 0}
            if not waiting:
                return
            deadline = workflow.now() + self._policy.backorder_deadline
            wid = backorder_workflow_id(self._order.order_id)
            self._backorder = await workflow.start_child_workflow(
                BackorderWorkflow.run,
                BackorderInput(
                    order_id=self._order.order_id,
                    order_workflow_id=self._state.workflow_id,
                    remaining=waiting,
                    deadline=deadline,
                ),
                id=wid,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                static_summary=(
                    f"Backorder for order {self._order.order_id}: "
                    + ", ".join(f"{q} x {s}" for s, q in sorted(waiting.items()))
                    + f"; deadline {deadline:%Y-%m-%d}"
                )[:200],
            )
            self._backorder_open = True
            self._state.backorder_workflow_id = wid
            self._event("backorder", f"{sum(waiting.values())} units wait for stock in {wid}")
            self._backorder_task = asyncio.create_task(self._await_backorder())
            return
        if not self._backorder_open:
            return
        for sku, qty in sorted(totals.items()):
            await self._backorder.signal(
                BackorderWorkflow.set_remaining,
                SetRemaining(sku=sku, remaining=qty, after_wake=sku == woken_sku),
            )

    async def _await_backorder(self) -> None:
        assert self._backorder is not None
        result = await self._backorder
        self._backorder_open = False  # the child has ended: nothing more to tell it
        if result.expired:
            plan: dict[str, int] = {}
            for ln in self._state.lines:
                if ln.backordered and result.expired.get(ln.sku):
                    plan[ln.line_id] = ln.backordered
            if plan:
                async with self._lock:
                    await self._cancel_units(plan, "backorder deadline passed", "backorder policy")

    async def _backorder_units_cancelled(self, sku: str) -> None:
        if self._backorder is not None and self._backorder_open:
            await self._backorder.signal(
                BackorderWorkflow.set_remaining,
                SetRemaining(sku=sku, remaining=self._backordered_by_sku().get(sku, 0)),
            )

    def _take_woken_stock(self) -> list[str]:
        woken, self._stock_woken = self._stock_woken, []
        return woken

    def _release_backordered(self, sku: str) -> int:
        """Backordered units of a SKU become pending again so the next routing covers them."""
        moved = 0
        for ln in self._state.lines:
            if ln.sku == sku and ln.backordered:
                moved += ln.backordered
                ln.backordered = 0
        return moved

    @workflow.signal(name=ORDER_STOCK_SIGNAL)
    def backorder_stock(self, msg: StockAvailable) -> None:
        if msg.sku not in self._stock_woken:
            self._stock_woken.append(msg.sku)
            self._event("stock", f"stock of {msg.sku} arrived for the backorder")
