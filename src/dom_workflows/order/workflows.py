"""OrderWorkflow: one durable run per order (workflow ID `order-<order_id>`).

validate -> reserve and route -> instruct each node -> follow each shipment (accept, ship,
deliver, each against the node's SLA) -> complete. A rejection or an SLA breach releases that
node's units and re-routes them elsewhere; units with no stock wait in a BackorderWorkflow;
holds pause the order; cancellation (an Update) and any failure after reserving compensate
exactly what was done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from dom_workflows.order.backorders import BACKORDER_PATCH, BackordersMixin
from dom_workflows.order.base import (
    DB_RETRY,
    DB_TIMEOUT,
    NODE_CALL_TIMEOUT,
    NODE_GIVE_UP,
    NODE_RETRY,
    failure_cause,
)
from dom_workflows.order.consolidation import ConsolidationMixin
from dom_workflows.order.partner_steps import PartnerStepsMixin
from dom_workflows.order.payments import PaymentsMixin

with workflow.unsafe.imports_passed_through():
    from activities.fulfillment.activities import FulfillmentActivities
    from activities.inventory.activities import InventoryActivities
    from activities.order.activities import OrderActivities
    from dom_workflows.common.models import Address, ShipmentLine
    from dom_workflows.fulfillment.models import FulfillmentRequest
    from dom_workflows.inventory.models import ConsumeInput, ReserveAndRouteInput, SourcingLine
    from dom_workflows.money import Money
    from dom_workflows.order import state as bk
    from dom_workflows.order.models import (
        CancelRequest,
        CancelResult,
        OrderRequest,
        OrderResult,
        OrderState,
        OrderStatus,
        RouteSummary,
        Shipment,
        ShipmentEvent,
        ShipmentStatus,
    )

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@workflow.defn
class OrderWorkflow(PaymentsMixin, PartnerStepsMixin, BackordersMixin, ConsolidationMixin):
    @workflow.init
    def __init__(self, order: OrderRequest) -> None:
        self._init_state(order)
        self._seen_events: set[str] = set()
        self._excluded: dict[str, str] = {}
        self._followers = 0
        self._tasks: list[asyncio.Task[None]] = []
        # A follower task's failure is re-raised by the main loop, which compensates.
        self._failure: Exception | None = None
        self._line_rejections: list[tuple[Shipment, list[ShipmentLine], str]] = []
        self._stock_woken = []
        self._consolidated = {}

    # ----------------------------------------------------------------- run
    @workflow.run
    async def run(self, order: OrderRequest) -> OrderResult:
        self._event(
            "received", f"order received from {order.channel} with {len(order.lines)} lines"
        )
        self._refresh()
        try:
            self._destination = await workflow.execute_activity_method(
                OrderActivities.validate_order,
                order,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
                summary=f"validate {len(order.lines)} lines and geocode the ship-to address",
            )
        except ActivityError as e:
            reason = failure_cause(e)
            self._stop(OrderStatus.FAILED, reason)
            raise ApplicationError(reason, type="InvalidOrder", non_retryable=True) from None
        self._policy = self._destination.policy
        self._event("validated", f"valid; ship-to state {self._destination.ship_to_state}")
        if self._destination.review_reason:
            self._hold("fraud", self._destination.review_reason)
        try:
            await self._start_payments()
            self._needs_route = True
            await self._supervise()
        except asyncio.CancelledError:
            await self._compensate("the workflow was cancelled from Temporal")
            self._stop(OrderStatus.CANCELLED, "the workflow was cancelled from Temporal")
            raise
        except (ActivityError, ApplicationError) as e:
            reason = f"stopped after a failure: {failure_cause(e)}"
            await self._compensate(reason)
            self._stop(OrderStatus.FAILED, reason)
            raise ApplicationError(reason, type="OrderFailed", non_retryable=True) from None
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._finish()
        await self._close_payment(f"order {self._state.status.value}")
        return OrderResult(
            order_id=order.order_id,
            status=self._state.status,
            stop_reason=self._state.stop_reason,
            shipments=self._state.shipments,
        )

    def _has_work(self) -> bool:
        return self._needs_route or bool(self._stock_woken) or bool(self._line_rejections)

    async def _supervise(self) -> None:
        """Route whatever needs a node; wait until every shipment and backorder has settled."""
        while True:
            if self._line_rejections:
                async with self._lock:
                    await self._apply_line_rejections()
            if self._needs_route:
                async with self._lock:
                    self._needs_route = False
                    await self._route()
            for sku in self._take_woken_stock():
                async with self._lock:
                    if self._release_backordered(sku):
                        await self._route(from_backorder=True)
                    await self._sync_backorder(woken_sku=sku)
            await workflow.wait_condition(
                lambda: (
                    self._has_work()
                    or self._failure is not None
                    or (self._followers == 0 and not self._backorder_open)
                )
            )
            if self._failure is not None:
                raise self._failure
            if not self._has_work():
                return

    # ----------------------------------------------------------------- routing
    async def _route(self, from_backorder: bool = False) -> None:
        assert self._destination is not None
        if self._terminal():
            return
        pending = [
            SourcingLine(
                line_id=ln.line_id,
                sku=ln.sku,
                qty=bk.pending_units(ln),
                unit_price=ln.unit_price.amount,
            )
            for ln in self._state.lines
            if bk.pending_units(ln) > 0
        ]
        if not pending:
            return
        if self._attempt >= self._policy.max_route_attempts and not from_backorder:
            await self._out_of_attempts(pending)
            return
        self._attempt += 1
        excluding = f", excluding {', '.join(sorted(self._excluded))}" if self._excluded else ""
        result = await workflow.execute_activity_method(
            InventoryActivities.reserve_and_route,
            ReserveAndRouteInput(
                order=self._order,
                destination=self._destination,
                attempt=self._attempt,
                lines=pending,
                excluded_nodes=dict(self._excluded),
                weekday=WEEKDAYS[workflow.now().weekday()],
            ),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"reserve & route attempt {self._attempt}: "
            f"{sum(s.qty for s in pending)} units{excluding}",
        )
        now = workflow.now()
        new: list[Shipment] = []
        for f in result.fulfillments:
            sh = Shipment(
                shipment_id=f.shipment_id,
                node=f.node,
                node_type=f.node_type,
                lines=f.lines,
                service=f.service,
                route_attempt=result.attempt,
                sla=f.sla,
                requested_at=now,
                ship_from=f.ship_from,
                billable_lb=f.billable_lb,
            )
            for planned in f.lines:
                bk.line(self._state, planned.line_id).allocated += planned.qty
            self._state.shipments.append(sh)
            new.append(sh)
        for b in result.backordered:
            bk.line(self._state, b.line_id).backordered += b.qty
        self._state.routes.append(
            RouteSummary(
                attempt=result.attempt,
                strategy=result.strategy,
                total_cost=result.total_cost,
                summary=result.summary,
                shipments=[f.shipment_id for f in result.fulfillments],
                backordered=result.backordered,
            )
        )
        self._event("routed", f"attempt {result.attempt}: {result.summary}")
        self._refresh()
        for sh in new:
            self._followers += 1
            self._tasks.append(asyncio.create_task(self._follow(sh)))
        if result.backordered and not from_backorder and workflow.patched(BACKORDER_PATCH):
            await self._sync_backorder()

    async def _out_of_attempts(self, pending: list[SourcingLine]) -> None:
        units = sum(s.qty for s in pending)
        what = f"{units} units found no node after {self._attempt} routing attempts"
        if self._policy.after_max_attempts == "cancel":
            await self._cancel_units({s.line_id: s.qty for s in pending}, what, "routing policy")
            return
        for sl in pending:
            bk.line(self._state, sl.line_id).backordered += sl.qty
        self._event("backordered", what)
        self._refresh()
        if workflow.patched(BACKORDER_PATCH):
            await self._sync_backorder()

    # ----------------------------------------------------------------- following a shipment
    async def _follow(self, sh: Shipment) -> None:
        try:
            if not await self._instruct(sh):
                return
            while not await self._wait_for(
                sh,
                lambda: sh.status != ShipmentStatus.REQUESTED,
                sh.sla.accept_within,
                f"{sh.node} to accept {sh.shipment_id}",
            ):
                if await self._breach(sh, f"not accepted within {sh.sla.accept_within}"):
                    return
            if sh.status == ShipmentStatus.ACCEPTED:
                await self._buy_label(sh)
            while not await self._wait_for(
                sh,
                lambda: sh.status != ShipmentStatus.ACCEPTED,
                sh.sla.ship_within,
                f"{sh.node} to ship {sh.shipment_id}",
            ):
                if await self._breach(sh, f"not shipped within {sh.sla.ship_within} of acceptance"):
                    return
            if sh.status == ShipmentStatus.REJECTED:
                await self._reroute_rejected(sh)
                return
            if sh.status not in bk.SHIPPED_STATES:
                return  # cancelled or timed out while we waited
            consumed = await workflow.execute_activity_method(
                InventoryActivities.consume_reservations,
                ConsumeInput(order_id=self._order.order_id, shipment_id=sh.shipment_id),
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
                summary=f"consume reserved units of {sh.shipment_id} at {sh.node}",
            )
            self._event(
                "consumed", f"{consumed.consumed_units} units left {sh.node}", sh.shipment_id
            )
            await self._capture(sh)
            if not await self._wait_for(
                sh,
                lambda: sh.status == ShipmentStatus.DELIVERED,
                sh.sla.deliver_within,
                f"delivery of {sh.shipment_id}",
            ):
                self._escalate(f"{sh.shipment_id} not delivered within {sh.sla.deliver_within}")
        except (ActivityError, ApplicationError) as e:
            self._failure = self._failure or e
        finally:
            self._followers -= 1

    async def _wait_for(
        self, sh: Shipment, done: Callable[[], bool], within: timedelta, what: str
    ) -> bool:
        """Wait for `done` (or a terminal status); False on timeout."""
        try:
            await workflow.wait_condition(
                lambda: done() or sh.status in bk.DEAD,
                timeout=within,
                timeout_summary=f"SLA: {what} within {within}",
            )
        except TimeoutError:
            return sh.status in bk.DEAD  # a terminal status that raced the timer is no breach
        return True

    async def _instruct(self, sh: Shipment) -> bool:
        await self._until_released()  # a held order sends nothing new to nodes
        await self._consolidate(sh)
        async with self._lock:
            if sh.status != ShipmentStatus.REQUESTED or self._terminal() or sh.units == 0:
                return False
            ship_to = self._order.ship_to or Address(name=f"pickup at {sh.node}")
            try:
                if self._uses_po(sh):
                    via = await self._send_purchase_order(sh, ship_to)
                else:
                    ack = await workflow.execute_activity_method(
                        FulfillmentActivities.instruct_node,
                        FulfillmentRequest(
                            shipment_id=sh.shipment_id,
                            order_id=self._order.order_id,
                            node=sh.node,
                            service=sh.service,
                            lines=sh.lines,
                            ship_to=ship_to,
                            consolidation_group=sh.consolidation_group,
                        ),
                        start_to_close_timeout=NODE_CALL_TIMEOUT,
                        schedule_to_close_timeout=NODE_GIVE_UP,
                        retry_policy=NODE_RETRY,
                        summary=f"send fulfilment request {sh.shipment_id} to {sh.node}",
                    )
                    via = ack.adapter
            except ActivityError as e:
                sh.status = ShipmentStatus.REJECTED
                sh.reason = f"node could not take the request: {failure_cause(e)}"
                self._event("rejected", sh.reason, sh.shipment_id)
                await self._release_and_requeue(sh, sh.reason)
                return False
            self._event("instructed", f"sent to {sh.node} via {via}", sh.shipment_id)
            return True

    async def _reroute_rejected(self, sh: Shipment) -> None:
        async with self._lock:
            await self._release_and_requeue(sh, f"rejected: {sh.reason or 'no reason given'}")

    async def _breach(self, sh: Shipment, what: str) -> bool:
        """Cancel a late shipment at its node and route its units elsewhere. False when the
        node refuses to cancel (it says the work is under way): then its units stay reserved
        there, ops are told, and the order keeps waiting for that node."""
        async with self._lock:
            if not sh.status.is_open:
                return True
            before = sh.status
            sh.status = ShipmentStatus.TIMED_OUT
            sh.reason = f"SLA breach at {sh.node}: {what}"
            self._escalate(sh.reason)
            try:
                await self._cancel_at_node(sh, sh.reason)
            except ActivityError as e:
                sh.status, sh.reason = before, None
                self._escalate(
                    f"{sh.node} refused to cancel {sh.shipment_id} ({failure_cause(e)}); "
                    "its units stay reserved there and the order keeps waiting for it"
                )
                return False
            await self._release_and_requeue(sh, sh.reason)
            return True

    async def _release_and_requeue(self, sh: Shipment, reason: str) -> None:
        """Give the node's units back to ATP and route them again, never to that node."""
        await self._release(sh.shipment_id, reason)
        for sl in sh.lines:
            bk.line(self._state, sl.line_id).allocated -= sl.qty
        self._excluded[sh.node] = reason
        self._needs_route = True
        self._refresh()

    async def _apply_line_rejections(self) -> None:
        """A node refused some lines of a request: move exactly those units elsewhere."""
        while self._line_rejections:
            sh, lines, reason = self._line_rejections.pop(0)
            if not sh.status.is_open:
                continue
            for rl in lines:
                sl = next((x for x in sh.lines if x.line_id == rl.line_id), None)
                n = min(rl.qty, sl.qty) if sl else 0
                if sl is None or n <= 0:
                    continue
                await self._release(
                    sh.shipment_id, f"rejected by {sh.node}: {reason}", sl.line_id, n
                )
                sl.qty -= n
                bk.line(self._state, sl.line_id).allocated -= n
            self._excluded[sh.node] = f"rejected lines: {reason}"
            self._needs_route = True
            if sh.units == 0:
                sh.status, sh.reason = ShipmentStatus.REJECTED, reason
            self._refresh()

    async def _compensate(self, reason: str) -> None:
        """Saga: undo what was done -- cancel open requests at their nodes, release all units."""
        for sh in bk.open_shipments(self._state):
            sh.status = ShipmentStatus.CANCELLED
            sh.reason = reason
            try:
                await self._cancel_at_node(sh, reason)
            except ActivityError as e:
                self._escalate(
                    f"could not cancel {sh.shipment_id} at {sh.node}: {failure_cause(e)}"
                )
        await self._release(None, reason)
        for ln in self._state.lines:
            ln.allocated = ln.shipped
        await self._close_payment(reason)

    # ----------------------------------------------------------------- messages
    @workflow.signal
    def shipment_event(self, ev: ShipmentEvent) -> None:
        """A node's or carrier's report. Redelivered events (same event_id) change nothing."""
        if ev.event_id in self._seen_events:
            return
        self._seen_events.add(ev.event_id)
        sh = next((s for s in self._state.shipments if s.shipment_id == ev.shipment_id), None)
        if sh is None:
            self._event("ignored", f"{ev.type} for unknown shipment {ev.shipment_id}")
            return
        now = ev.occurred_at or workflow.now()
        if ev.type == "accepted" and sh.status == ShipmentStatus.REQUESTED:
            sh.status, sh.accepted_at = ShipmentStatus.ACCEPTED, now
            self._event("accepted", f"accepted by {sh.node}", sh.shipment_id)
        elif ev.type == "rejected" and sh.status.is_open:
            reason = ev.reason or "no reason given"
            partial = ev.lines and sum(x.qty for x in ev.lines) < sh.units
            what = (
                ", ".join(f"{x.sku} x{x.qty}" for x in ev.lines)
                if partial and ev.lines
                else "all lines"
            )
            self._state.rejections.append(
                f"{sh.node} rejected {what} of {sh.shipment_id}: {reason}"
            )
            self._event("rejected", f"{sh.node} rejected {what}: {reason}", sh.shipment_id)
            if partial and ev.lines:
                self._line_rejections.append((sh, ev.lines, reason))
            else:
                sh.status, sh.reason = ShipmentStatus.REJECTED, reason
        elif ev.type in ("shipped", "delivered") and sh.status.is_open:
            sh.status, sh.shipped_at = ShipmentStatus.SHIPPED, now
            sh.accepted_at = sh.accepted_at or now
            sh.carrier, sh.tracking = ev.carrier or sh.carrier, ev.tracking or sh.tracking
            for sl in sh.lines:
                bk.line(self._state, sl.line_id).shipped += sl.qty
            self._event(
                "shipped", f"shipped by {sh.node} via {sh.carrier} {sh.tracking}", sh.shipment_id
            )
            if ev.type == "delivered":
                self._deliver(sh)
        elif ev.type == "delivered" and sh.status == ShipmentStatus.SHIPPED:
            self._deliver(sh)
        elif ev.type == "shipped" and sh.status in bk.DEAD:
            self._escalate(f"{sh.node} reports {sh.shipment_id} shipped after it was {sh.status}")
        else:
            self._event("ignored", f"{ev.type} while {sh.status.value}", sh.shipment_id)
            return
        self._refresh()

    def _deliver(self, sh: Shipment) -> None:
        sh.status, sh.delivered_at = ShipmentStatus.DELIVERED, workflow.now()
        for sl in sh.lines:
            bk.line(self._state, sl.line_id).delivered += sl.qty
        self._event("delivered", f"delivered ({sh.carrier} {sh.tracking})", sh.shipment_id)

    @workflow.update
    async def cancel(self, req: CancelRequest) -> CancelResult:
        """Cancel the whole order or some units; releases exactly those units."""
        async with self._lock:
            plan, refusal = bk.cancellation_plan(self._state, req)
            if refusal:  # the state moved on between the validator and the lock
                raise ApplicationError(refusal, type="CancelRefused")
            cancelled, released = await self._cancel_units(
                plan, req.reason, req.requested_by, refuse_if_nothing=True
            )
            value = sum(
                (bk.line(self._state, c.line_id).unit_price.times(c.qty) for c in cancelled),
                start=Money.zero(self._state.order_value.currency),
            )
            return CancelResult(
                cancelled=cancelled,
                released_units=released,
                order_status=self._state.status,
                amount_not_charged=value,
            )

    @cancel.validator
    def _validate_cancel(self, req: CancelRequest) -> None:
        _, refusal = bk.cancellation_plan(self._state, req)
        if refusal:
            raise ApplicationError(refusal, type="CancelRefused")

    @workflow.query
    def state(self) -> OrderState:
        return self._state

    # ----------------------------------------------------------------- the end
    def _finish(self) -> None:
        if self._terminal():
            return
        lines = self._state.lines
        if all(ln.cancelled == ln.qty for ln in lines):
            self._stop(OrderStatus.CANCELLED, "every unit was cancelled")
            return
        backordered = sum(ln.backordered for ln in lines)
        undelivered = sum(ln.shipped - ln.delivered for ln in lines)
        notes = []
        if backordered:
            notes.append(f"{backordered} units backordered")
        if undelivered:
            notes.append(f"{undelivered} units shipped without delivery confirmation")
        self._state.status = OrderStatus.COMPLETED
        self._state.stop_reason = "; ".join(notes) or None
        self._event("completed", "order complete" + (f" ({'; '.join(notes)})" if notes else ""))
        self._refresh()
