"""Holds: fraud review, payment trouble, or ops. A held order keeps its reservation and does
nothing new (no node is instructed, nothing is captured, no label bought) until every hold is
released; past the policy's hold timeout it is cancelled with full compensation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.models import Hold, HoldKind, PlaceHold, ReleaseHold


class Holds:
    def __init__(self, book: OrderBook, lock: asyncio.Lock) -> None:
        self._book = book
        self._lock = lock
        self._watcher: asyncio.Task[None] | None = None
        self._on_timeout: Callable[[str], Awaitable[None]] | None = None

    @property
    def held(self) -> bool:
        return bool(self._book.state.holds)

    def on_timeout(self, cancel_everything: Callable[[str], Awaitable[None]]) -> None:
        self._on_timeout = cancel_everything

    def place(self, kind: HoldKind, reason: str, by: str = "system") -> None:
        st = self._book.state
        if any(h.kind == kind for h in st.holds):
            return
        st.holds.append(Hold(kind=kind, reason=reason, placed_at=workflow.now(), placed_by=by))
        self._book.event("hold", f"{kind} hold by {by}: {reason}")
        self._book.refresh()
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())

    def release(self, kind: HoldKind | None, note: str, by: str) -> list[Hold]:
        st = self._book.state
        released = [h for h in st.holds if kind is None or h.kind == kind]
        st.holds = [h for h in st.holds if h not in released]
        for h in released:
            self._book.event("hold-released", f"{h.kind} hold released by {by}: {note}")
        self._book.refresh()
        return released

    async def clear_to_start(self) -> None:
        """Return at a moment when no hold is on (or the order has ended) and no step holds
        the order's lock. The caller starts its effect before its next await, so a hold or a
        cancellation that lands later finds the effect already under way, never half begun."""
        await workflow.wait_condition(
            lambda: (not self.held or self._book.terminal()) and not self._lock.locked()
        )

    async def _watch(self) -> None:
        """One timer for the whole hold period: past the timeout the order is cancelled."""
        timeout = self._book.policy.hold_timeout
        try:
            await workflow.wait_condition(
                lambda: not self.held or self._book.terminal(),
                timeout=timeout,
                timeout_summary=f"hold timeout: auto-cancel after {timeout}",
            )
        except TimeoutError:
            kinds = ", ".join(h.kind for h in self._book.state.holds)
            reason = f"{kinds} hold not released within {timeout}"
            self._book.escalate(reason)
            if self._on_timeout is not None:
                await self._on_timeout(reason)
            # What could be cancelled was; what already shipped is still owed and captured.
            self.release(None, "hold timed out; the order was cancelled", "hold timeout")

    # ----------------------------------------------------------------- validators
    def refuse_place(self, req: PlaceHold) -> str | None:
        st = self._book.state
        if self._book.terminal():
            return f"order {st.order_id} is already {st.status.value}"
        if all(ln.shipped + ln.cancelled >= ln.qty for ln in st.lines):
            return "nothing left to hold: every unit shipped or cancelled"
        return None

    def refuse_release(self, req: ReleaseHold) -> str | None:
        st = self._book.state
        if any(req.kind is None or h.kind == req.kind for h in st.holds):
            return None
        held = ", ".join(h.kind for h in st.holds) or "none"
        what = f"{req.kind} hold" if req.kind else "hold"
        return f"order {st.order_id} has no {what} (holds: {held})"
