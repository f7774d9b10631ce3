"""Backorders: units with no ATP wait, for days or weeks, until stock arrives or a deadline passes.

BackorderWorkflow (`backorder-<order_id>`, a child of the order) waits for one order's units.
SkuWaitlistWorkflow (`waitlist-<sku>`) keeps the first-come-first-served queue of every backorder
waiting for a SKU: an inventory receipt signals the list, which wakes its waiters one at a time in
order. Each waiter lives in its own small workflow, so no single history grows with the number of
waiting orders; the list continues-as-new to stay bounded too.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.backorder.activities import WaitlistActivities
    from dom_workflows.backorder.models import (
        BackorderInput,
        BackorderResult,
        ExtendDeadline,
        JoinWaitlist,
        LeaveWaitlist,
        SetRemaining,
        Settled,
        StockArrival,
        StockAvailable,
        Waiter,
        WaitlistState,
        waitlist_workflow_id,
    )
    from dom_workflows.common.text import count

# Signal names on the order workflow (by name, to keep the order and backorder modules apart).
from dom_workflows.order import names as order_names

# How long the list waits for a woken order to say whether the stock covered it.
SETTLE_TIMEOUT = timedelta(minutes=10)
SIGNAL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))


@workflow.defn
class BackorderWorkflow:
    @workflow.init
    def __init__(self, inp: BackorderInput) -> None:
        self._remaining = dict(inp.remaining)
        self._woken: list[str] = []
        self._to_join: list[str] = sorted(inp.remaining)
        self._to_settle: list[tuple[str, bool]] = []  # (sku, filled)
        self._filled: dict[str, int] = {}
        self._deadline = inp.deadline  # later when the order's units wait for later inbound
        self._deadline_moved = False

    @workflow.run
    async def run(self, inp: BackorderInput) -> BackorderResult:
        me = workflow.info().workflow_id
        while any(self._remaining.values()):
            await self._drain(inp)
            left = self._deadline - workflow.now()
            self._deadline_moved = False
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._woken or self._to_join or self._to_settle)
                        or not any(self._remaining.values())
                        or self._deadline_moved
                    ),
                    timeout=max(left, timedelta(seconds=1)),
                    timeout_summary=f"backorder deadline {self._deadline:%Y-%m-%d %H:%M} UTC",
                )
            except TimeoutError:
                break
        await self._drain(inp)
        expired = {sku: qty for sku, qty in self._remaining.items() if qty > 0}
        for sku in sorted(self._remaining):
            await workflow.execute_activity_method(
                WaitlistActivities.leave_waitlist,
                LeaveWaitlist(sku=sku, workflow_id=me),
                start_to_close_timeout=timedelta(seconds=30),
                summary=f"leave the {sku} waiting list",
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BackorderResult(order_id=inp.order_id, filled=self._filled, expired=expired)

    async def _drain(self, inp: BackorderInput) -> None:
        me = workflow.info().workflow_id
        while self._to_join:
            sku = self._to_join.pop(0)
            if self._remaining.get(sku, 0) > 0:
                await workflow.execute_activity_method(
                    WaitlistActivities.join_waitlist,
                    JoinWaitlist(sku=sku, waiter=Waiter(workflow_id=me, qty=self._remaining[sku])),
                    start_to_close_timeout=timedelta(seconds=30),
                    summary=f"join the {sku} waiting list for {count(self._remaining[sku], 'unit')}",
                )
        while self._to_settle:
            sku, filled = self._to_settle.pop(0)
            # Tell the list whether the stock covered us, so it can wake the next in line.
            with contextlib.suppress(FailureError):  # a list that ended has nobody behind us
                await workflow.get_external_workflow_handle(waitlist_workflow_id(sku)).signal(
                    SkuWaitlistWorkflow.settled, Settled(workflow_id=me, filled=filled)
                )
        while self._woken:
            sku = self._woken.pop(0)
            # The order reserves and routes, then answers with set_remaining(after_wake=True).
            await workflow.get_external_workflow_handle(inp.order_workflow_id).signal(
                order_names.STOCK_AVAILABLE, StockAvailable(sku=sku)
            )

    @workflow.signal
    def stock_available(self, msg: StockAvailable) -> None:
        if self._remaining.get(msg.sku, 0) > 0 and msg.sku not in self._woken:
            self._woken.append(msg.sku)

    @workflow.signal
    def extend_deadline(self, msg: ExtendDeadline) -> None:
        if msg.deadline > self._deadline:
            self._deadline = msg.deadline
            self._deadline_moved = True  # the wait starts again with the new timeout

    @workflow.signal
    def set_remaining(self, msg: SetRemaining) -> None:
        before = self._remaining.get(msg.sku, 0)
        self._remaining[msg.sku] = msg.remaining
        if msg.remaining < before and msg.after_wake:  # cancelled units were not filled
            self._filled[msg.sku] = self._filled.get(msg.sku, 0) + (before - msg.remaining)
        elif msg.remaining > before:
            self._to_join.append(msg.sku)
        if msg.after_wake:
            self._to_settle.append((msg.sku, msg.remaining == 0))

    @workflow.query
    def remaining(self) -> dict[str, int]:
        return dict(self._remaining)


@workflow.defn
class SkuWaitlistWorkflow:
    @workflow.init
    def __init__(self, state: WaitlistState) -> None:
        self._state = state
        self._in_flight: str | None = None
        self._wakes = 0

    @workflow.run
    async def run(self, state: WaitlistState) -> None:
        st = self._state
        while st.queue:
            if self._wakes >= st.wakes_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(st)
            await workflow.wait_condition(
                lambda: not st.queue or (st.stock_pending and self._in_flight is None)
            )
            if not st.queue:
                break
            head = st.queue[0]
            self._in_flight = head.workflow_id
            self._wakes += 1
            st.woken_total += 1
            try:
                await workflow.get_external_workflow_handle(head.workflow_id).signal(
                    BackorderWorkflow.stock_available, StockAvailable(sku=st.sku)
                )
            except FailureError:
                self._drop(head.workflow_id)  # that backorder has ended
                continue
            try:
                await workflow.wait_condition(
                    lambda: self._in_flight is None,
                    timeout=SETTLE_TIMEOUT,
                    timeout_summary=f"{head.workflow_id} to take {st.sku}",
                )
            except TimeoutError:
                self._in_flight = None
                st.stock_pending = False  # assume it was not enough; wait for the next receipt
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _drop(self, workflow_id: str) -> None:
        self._state.queue = [w for w in self._state.queue if w.workflow_id != workflow_id]
        if self._in_flight == workflow_id:
            self._in_flight = None

    @workflow.signal
    def join(self, waiter: Waiter) -> None:
        if all(w.workflow_id != waiter.workflow_id for w in self._state.queue):
            self._state.queue.append(waiter)

    @workflow.signal
    def leave(self, workflow_id: str) -> None:
        self._drop(workflow_id)

    @workflow.signal
    def stock_arrived(self, arrival: StockArrival) -> None:
        self._state.stock_pending = True

    @workflow.signal
    def settled(self, msg: Settled) -> None:
        if msg.workflow_id != self._in_flight:
            return
        self._in_flight = None
        if msg.filled:
            self._drop(msg.workflow_id)
        else:
            # Not enough stock for the head of the queue: it keeps its place; later receipts
            # wake it first.
            self._state.stock_pending = False

    @workflow.query
    def waiting(self) -> list[Waiter]:
        return list(self._state.queue)
