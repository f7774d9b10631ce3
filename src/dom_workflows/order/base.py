"""State and shared steps of OrderWorkflow: bookkeeping, search attributes, and the undo steps
(release, cancel at node, cancel units) that cancellation, holds, backorders and sagas share."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.fulfillment.activities import FulfillmentActivities
    from activities.inventory.activities import InventoryActivities
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.fulfillment.models import AmendFulfillment, CancelFulfillment
    from dom_workflows.inventory.models import ReleaseInput, ValidatedOrder
    from dom_workflows.money import Money
    from dom_workflows.order import search_attributes as attrs
    from dom_workflows.order import state as bk
    from dom_workflows.order.models import (
        LineState,
        OrderPolicy,
        OrderRequest,
        OrderState,
        OrderStatus,
        Shipment,
        ShipmentStatus,
        TimelineEvent,
        order_workflow_id,
    )

AMEND_PATCH = "amend-at-node-v1"
# Cancellation asks the node before releasing anything (runs recorded earlier released first).
NODE_FIRST_PATCH = "node-first-cancel-v1"
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["InvalidOrder", "RoutingError"],
)
NODE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=["NodeRefused"],
)
DB_TIMEOUT = timedelta(seconds=30)
NODE_CALL_TIMEOUT = timedelta(seconds=20)
# A node unreachable this long is treated like a rejection: its units go elsewhere.
NODE_GIVE_UP = timedelta(minutes=30)


def failure_cause(err: BaseException) -> str:
    """The innermost failure message: what actually went wrong, not the wrapper."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


class OrderBase:
    """Fields and helpers every part of the order workflow uses."""

    def _init_state(self, order: OrderRequest) -> None:
        self._order = order
        self._state = OrderState(
            order_id=order.order_id,
            workflow_id=order_workflow_id(order.order_id),
            status=OrderStatus.RECEIVED,
            channel=order.channel,
            customer_id=order.customer.id,
            customer_tier=order.customer.tier,
            order_value=order.value() if order.lines else Money.zero(),
            lines=[
                LineState(line_id=ln.line_id, sku=ln.sku, qty=ln.qty, unit_price=ln.unit_price)
                for ln in order.lines
            ],
        )
        self._policy = OrderPolicy()
        self._destination: ValidatedOrder | None = None
        self._attempt = 0
        self._release_seq = 0
        self._amend_seq = 0
        self._needs_route = False
        # Handlers and the main loop both call activities that change the ledger; one at a time.
        self._lock = asyncio.Lock()

    # ----------------------------------------------------------------- bookkeeping
    def _event(self, kind: str, message: str, shipment_id: str | None = None) -> None:
        self._state.timeline.append(
            TimelineEvent(at=workflow.now(), kind=kind, message=message, shipment_id=shipment_id)
        )

    def _escalate(self, message: str) -> None:
        self._state.escalations.append(message)
        self._event("escalated", message)
        self._refresh()

    def _stop(self, status: OrderStatus, reason: str) -> None:
        self._state.status = status
        self._state.stop_reason = reason
        self._event(status.value, reason)
        self._refresh()

    def _terminal(self) -> bool:
        return self._state.status in bk.TERMINAL

    def _refresh(self) -> None:
        """Keep status, search attributes and UI details in step with the state."""
        st = self._state
        st.status = bk.derive_status(st)
        workflow.upsert_search_attributes(
            [
                attrs.ORDER_STATUS.value_set(st.status.value),
                attrs.SALES_CHANNEL.value_set(st.channel),
                attrs.CUSTOMER_ID.value_set(st.customer_id),
                attrs.CUSTOMER_TIER.value_set(st.customer_tier),
                attrs.ORDER_VALUE.value_set(float(st.order_value.amount)),
                attrs.FULFILLMENT_NODES.value_set(bk.active_nodes(st)),
                attrs.BACKORDERED.value_set(any(ln.backordered for ln in st.lines)),
                attrs.ESCALATED.value_set(bool(st.escalations)),
            ]
        )
        workflow.set_current_details(bk.details_markdown(st))

    # ----------------------------------------------------------------- undo steps
    async def _release(
        self,
        shipment_id: str | None,
        reason: str,
        line_id: str | None = None,
        qty: int | None = None,
    ) -> int:
        self._release_seq += 1
        result = await workflow.execute_activity_method(
            InventoryActivities.release_reservations,
            ReleaseInput(
                order_id=self._order.order_id,
                shipment_id=shipment_id,
                line_id=line_id,
                qty=qty,
                reason=reason,
                # Unique per release decision, stable across activity retries.
                idempotency_key=f"{self._order.order_id}:release:{self._release_seq}",
            ),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"release {qty or 'all'} reserved units of {shipment_id or 'the order'}",
        )
        if result.released_units:
            self._event(
                "released", f"{result.released_units} units released: {reason}", shipment_id
            )
        return result.released_units

    async def _cancel_at_node(
        self, sh: Shipment, reason: str, lines: list[ShipmentLine] | None = None
    ) -> None:
        await workflow.execute_activity_method(
            FulfillmentActivities.cancel_at_node,
            CancelFulfillment(
                shipment_id=sh.shipment_id,
                order_id=self._order.order_id,
                node=sh.node,
                reason=reason,
            ),
            start_to_close_timeout=NODE_CALL_TIMEOUT,
            schedule_to_close_timeout=NODE_GIVE_UP,
            retry_policy=NODE_RETRY,
            summary=f"cancel {sh.shipment_id} at {sh.node}",
        )
        self._event("node-cancelled", f"cancelled at {sh.node}: {reason}", sh.shipment_id)

    async def _cancel_units(
        self,
        plan: dict[str, int],
        reason: str,
        requested_by: str,
        *,
        refuse_if_nothing: bool = False,
    ) -> tuple[list[ShipmentLine], int]:
        """Cancel `plan` (line -> units): first units not yet routed, then backordered ones, then
        units at nodes (newest shipment first). A node is asked first and only what it agrees
        to cancel is released: units it says are already shipped stay as they are, and ops are
        told. Caller holds the lock."""
        if not workflow.patched(NODE_FIRST_PATCH):
            return await self._cancel_units_recorded(plan, reason, requested_by)
        why = f"{requested_by}: {reason}"
        local: dict[str, tuple[int, int]] = {}  # line -> (not yet routed, backordered)
        takes: dict[str, dict[str, int]] = {}  # shipment -> line -> units
        shipments = {sh.shipment_id: sh for sh in bk.open_shipments(self._state)}
        for line_id, qty in plan.items():
            ln = bk.line(self._state, line_id)
            take = min(qty, bk.pending_units(ln))
            take_bo = min(qty - take, ln.backordered)
            local[line_id] = (take, take_bo)
            remaining = qty - take - take_bo
            for sh in reversed(list(shipments.values())):
                for sl in sh.lines:
                    if remaining and sl.line_id == line_id and sl.qty:
                        n = min(sl.qty, remaining)
                        by_line = takes.setdefault(sh.shipment_id, {})
                        by_line[line_id] = by_line.get(line_id, 0) + n
                        remaining -= n
        refusals: list[str] = []
        for sid, by_line in list(takes.items()):
            sh = shipments[sid]
            left = [
                ShipmentLine(
                    line_id=sl.line_id, sku=sl.sku, qty=sl.qty - by_line.get(sl.line_id, 0)
                )
                for sl in sh.lines
            ]
            before = sh.status
            try:
                if sum(x.qty for x in left) == 0:
                    sh.status, sh.reason = ShipmentStatus.CANCELLED, reason
                    await self._cancel_at_node(sh, why)
                else:
                    await self._amend_at_node(sh, why, [x for x in left if x.qty])
            except ActivityError as e:
                sh.status, sh.reason = before, None
                refusals.append(f"{sh.node} refused for {sid}: {failure_cause(e)}")
                del takes[sid]
        cancelled: list[ShipmentLine] = []
        released = 0
        for line_id, (take, take_bo) in local.items():
            ln = bk.line(self._state, line_id)
            ln.backordered -= take_bo
            done = take + take_bo
            for sid, by_line in takes.items():
                n = by_line.get(line_id, 0)
                if not n:
                    continue
                released += await self._release(sid, f"cancelled: {reason}", line_id, n)
                sl = next(x for x in shipments[sid].lines if x.line_id == line_id)
                sl.qty -= n
                ln.allocated -= n
                done += n
            ln.cancelled += done
            cancelled.append(ShipmentLine(line_id=line_id, sku=ln.sku, qty=done))
            if take_bo:
                await self._backorder_units_cancelled(ln.sku)
        for refusal in refusals:
            self._escalate(f"cancellation not done at the node: {refusal}")
        if refuse_if_nothing and refusals and not any(c.qty for c in cancelled):
            self._refresh()
            raise ApplicationError("; ".join(refusals), type="CancelRefused")
        self._event(
            "cancelled",
            f"{sum(c.qty for c in cancelled)} units cancelled by {requested_by}: {reason}",
        )
        if all(ln.cancelled == ln.qty for ln in self._state.lines):
            self._stop(OrderStatus.CANCELLED, f"cancelled by {requested_by}: {reason}")
        self._refresh()
        return cancelled, released

    async def _cancel_units_recorded(
        self, plan: dict[str, int], reason: str, requested_by: str
    ) -> tuple[list[ShipmentLine], int]:
        """How runs recorded before NODE_FIRST_PATCH cancelled: release, then tell the node."""
        cancelled: list[ShipmentLine] = []
        released = 0
        touched: dict[str, Shipment] = {}
        for line_id, qty in plan.items():
            ln = bk.line(self._state, line_id)
            remaining = qty
            take = min(remaining, bk.pending_units(ln))
            take_bo = min(remaining - take, ln.backordered)
            ln.backordered -= take_bo
            remaining -= take + take_bo
            for sh in reversed(bk.open_shipments(self._state)):
                for sl in sh.lines:
                    if remaining and sl.line_id == line_id and sl.qty:
                        n = min(sl.qty, remaining)
                        released += await self._release(
                            sh.shipment_id, f"cancelled: {reason}", line_id, n
                        )
                        sl.qty -= n
                        ln.allocated -= n
                        remaining -= n
                        touched[sh.shipment_id] = sh
            ln.cancelled += qty - remaining
            cancelled.append(ShipmentLine(line_id=line_id, sku=ln.sku, qty=qty - remaining))
            if take_bo:
                await self._backorder_units_cancelled(ln.sku)
        for sh in touched.values():
            if sh.units == 0:
                sh.status, sh.reason = ShipmentStatus.CANCELLED, reason
                await self._cancel_at_node(sh, f"{requested_by}: {reason}")
            elif workflow.patched(AMEND_PATCH):
                await self._amend_at_node(sh, f"{requested_by}: {reason}")
            else:  # runs recorded before amendments existed cancelled the whole request here
                await self._cancel_at_node(sh, f"{requested_by}: {reason}")
        self._event(
            "cancelled",
            f"{sum(c.qty for c in cancelled)} units cancelled by {requested_by}: {reason}",
        )
        if all(ln.cancelled == ln.qty for ln in self._state.lines):
            self._stop(OrderStatus.CANCELLED, f"cancelled by {requested_by}: {reason}")
        self._refresh()
        return cancelled, released

    async def _amend_at_node(
        self, sh: Shipment, reason: str, lines: list[ShipmentLine] | None = None
    ) -> None:
        """Some units of a live request were cancelled: the node ships only `lines`."""
        lines = lines if lines is not None else [sl for sl in sh.lines if sl.qty]
        units = sum(sl.qty for sl in lines)
        if sh.po_id:
            # Suppliers take no amendments: ops amend the PO by hand (the units are released).
            self._escalate(f"amend purchase order {sh.po_id} at {sh.node} to {units} units")
            return
        self._amend_seq += 1
        await workflow.execute_activity_method(
            FulfillmentActivities.amend_at_node,
            AmendFulfillment(
                shipment_id=sh.shipment_id,
                order_id=self._order.order_id,
                node=sh.node,
                lines=lines,
                reason=reason,
                seq=self._amend_seq,
            ),
            start_to_close_timeout=NODE_CALL_TIMEOUT,
            schedule_to_close_timeout=NODE_GIVE_UP,
            retry_policy=NODE_RETRY,
            summary=f"amend {sh.shipment_id} at {sh.node} to {sh.units} units",
        )
        self._event(
            "node-amended", f"{sh.node} now ships {sh.units} units: {reason}", sh.shipment_id
        )

    async def _cancel_everything(self, reason: str, requested_by: str) -> None:
        async with self._lock:
            plan = {
                ln.line_id: bk.cancellable_units(self._state, ln)
                for ln in self._state.lines
                if bk.cancellable_units(self._state, ln) > 0
            }
            if plan and not self._terminal():
                await self._cancel_units(plan, reason, requested_by)

    async def _backorder_units_cancelled(self, sku: str) -> None:
        """Hook: the backorder part tells its child workflow (see BackordersMixin)."""
