"""Holds: fraud review, payment trouble, or ops. A held order keeps its reservation, sends
nothing new to nodes, and waits for an ops Update to release it; past the policy's hold
timeout it is cancelled with full compensation."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from dom_workflows.order.base import OrderBase

with workflow.unsafe.imports_passed_through():
    from dom_workflows.order.models import Hold, HoldKind, PlaceHold, ReleaseHold


class HoldsMixin(OrderBase):
    _hold_task: asyncio.Task[None] | None = None

    def _hold(self, kind: HoldKind, reason: str, by: str = "system") -> None:
        if any(h.kind == kind for h in self._state.holds):
            return
        self._state.holds.append(
            Hold(kind=kind, reason=reason, placed_at=workflow.now(), placed_by=by)
        )
        self._event("hold", f"{kind} hold by {by}: {reason}")
        self._refresh()
        if self._hold_task is None or self._hold_task.done():
            self._hold_task = asyncio.create_task(self._watch_holds())

    def _unhold(self, kind: HoldKind | None, note: str, by: str) -> list[Hold]:
        released = [h for h in self._state.holds if kind is None or h.kind == kind]
        self._state.holds = [h for h in self._state.holds if h not in released]
        for h in released:
            self._event("hold-released", f"{h.kind} hold released by {by}: {note}")
        self._refresh()
        return released

    async def _watch_holds(self) -> None:
        """One timer for the whole hold period: past the timeout the order is cancelled."""
        timeout = self._policy.hold_timeout
        try:
            await workflow.wait_condition(
                lambda: not self._state.holds or self._terminal(),
                timeout=timeout,
                timeout_summary=f"hold timeout: auto-cancel after {timeout}",
            )
        except TimeoutError:
            kinds = ", ".join(h.kind for h in self._state.holds)
            reason = f"{kinds} hold not released within {timeout}"
            self._escalate(reason)
            await self._cancel_everything(reason, "hold timeout")

    async def _until_released(self) -> None:
        """Wait while the order is held (no timer here: _watch_holds owns the deadline)."""
        if self._state.holds:
            await workflow.wait_condition(lambda: not self._state.holds or self._terminal())

    @workflow.update
    async def place_hold(self, req: PlaceHold) -> list[Hold]:
        self._hold(req.kind, req.reason, req.placed_by)
        return self._state.holds

    @place_hold.validator
    def _validate_place_hold(self, req: PlaceHold) -> None:
        if self._terminal():
            raise ApplicationError(
                f"order {self._state.order_id} is already {self._state.status.value}",
                type="HoldRefused",
            )
        if all(ln.shipped + ln.cancelled >= ln.qty for ln in self._state.lines):
            raise ApplicationError(
                "nothing left to hold: every unit shipped or cancelled", type="HoldRefused"
            )

    @workflow.update
    async def release_hold(self, req: ReleaseHold) -> list[Hold]:
        self._unhold(req.kind, req.note, req.released_by)
        return self._state.holds

    @release_hold.validator
    def _validate_release_hold(self, req: ReleaseHold) -> None:
        if not any(req.kind is None or h.kind == req.kind for h in self._state.holds):
            held = ", ".join(h.kind for h in self._state.holds) or "none"
            raise ApplicationError(
                f"order {self._state.order_id} has no {req.kind or ''} hold (holds: {held})".replace(
                    "  ", " "
                ),
                type="HoldRefused",
            )
