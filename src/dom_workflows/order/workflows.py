"""OrderWorkflow: one durable run per order (workflow ID `order-<order_id>`).

validate -> reserve and route -> instruct each node -> follow each shipment (accept, ship,
deliver, each against the node's SLA) -> complete. A rejection or an SLA breach releases that
node's units and re-routes them elsewhere; cancellation (an Update) and any failure after
reserving compensate exactly what was done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.fulfillment.activities import FulfillmentActivities
    from activities.inventory.activities import InventoryActivities
    from activities.order.activities import OrderActivities
    from dom_workflows.fulfillment.models import CancelFulfillment, FulfillmentRequest
    from dom_workflows.inventory.models import (
        ConsumeInput,
        ReleaseInput,
        ReserveAndRouteInput,
        SourcingLine,
        ValidatedOrder,
    )
    from dom_workflows.money import Money
    from dom_workflows.order import search_attributes as attrs
    from dom_workflows.order import state as bk
    from dom_workflows.order.models import (
        Address,
        CancelRequest,
        CancelResult,
        LineState,
        OrderRequest,
        OrderResult,
        OrderState,
        OrderStatus,
        RouteSummary,
        Shipment,
        ShipmentEvent,
        ShipmentLine,
        ShipmentStatus,
        TimelineEvent,
        order_workflow_id,
    )

# Routing attempts per order; past this, units that still have no node are backordered.
MAX_ROUTE_ATTEMPTS = 4
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderRequest) -> None:
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
        self._destination: ValidatedOrder | None = None
        self._seen_events: set[str] = set()
        self._excluded: dict[str, str] = {}
        self._needs_route = False
        self._attempt = 0
        self._followers = 0
        self._tasks: list[asyncio.Task[None]] = []
        # A follower task's failure is re-raised by the main loop, which compensates.
        self._failure: Exception | None = None
        self._cancel_seq = 0
        # Handlers and the main loop both call activities that change the ledger; one at a time.
        self._lock = asyncio.Lock()

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
            reason = _cause(e)
            self._stop(OrderStatus.FAILED, reason)
            raise ApplicationError(reason, type="InvalidOrder", non_retryable=True) from None
        self._event("validated", f"valid; ship-to state {self._destination.ship_to_state}")
        try:
            self._needs_route = True
            await self._supervise()
        except asyncio.CancelledError:
            await self._compensate("the workflow was cancelled from Temporal")
            self._stop(OrderStatus.CANCELLED, "the workflow was cancelled from Temporal")
            raise
        except (ActivityError, ApplicationError) as e:
            reason = f"stopped after a failure: {_cause(e)}"
            await self._compensate(reason)
            self._stop(OrderStatus.FAILED, reason)
            raise ApplicationError(reason, type="OrderFailed", non_retryable=True) from None
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._finish()
        return OrderResult(
            order_id=order.order_id,
            status=self._state.status,
            stop_reason=self._state.stop_reason,
            shipments=self._state.shipments,
        )

    async def _supervise(self) -> None:
        """Route whatever needs a node, then wait until every shipment has settled."""
        while True:
            if self._needs_route:
                async with self._lock:
                    self._needs_route = False
                    await self._route()
            await workflow.wait_condition(
                lambda: self._needs_route or self._followers == 0 or self._failure is not None
            )
            if self._failure is not None:
                raise self._failure
            if not self._needs_route:
                return

    # ----------------------------------------------------------------- routing
    async def _route(self) -> None:
        assert self._destination is not None
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
        if self._attempt >= MAX_ROUTE_ATTEMPTS:
            for sl in pending:
                bk.line(self._state, sl.line_id).backordered += sl.qty
            self._event(
                "backordered",
                f"{sum(s.qty for s in pending)} units backordered after "
                f"{self._attempt} routing attempts",
            )
            self._refresh()
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

    # ----------------------------------------------------------------- following a shipment
    async def _follow(self, sh: Shipment) -> None:
        try:
            if not await self._instruct(sh):
                return
            if not await self._wait_for(
                sh,
                lambda: sh.status != ShipmentStatus.REQUESTED,
                sh.sla.accept_within,
                f"{sh.node} to accept {sh.shipment_id}",
            ):
                await self._breach(sh, f"not accepted within {sh.sla.accept_within}")
                return
            if not await self._wait_for(
                sh,
                lambda: sh.status != ShipmentStatus.ACCEPTED,
                sh.sla.ship_within,
                f"{sh.node} to ship {sh.shipment_id}",
            ):
                await self._breach(sh, f"not shipped within {sh.sla.ship_within} of acceptance")
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
                lambda: done() or sh.status in bk._DEAD,
                timeout=within,
                timeout_summary=f"SLA: {what} within {within}",
            )
        except TimeoutError:
            return sh.status in bk._DEAD  # a terminal status that raced the timer is no breach
        return True

    async def _instruct(self, sh: Shipment) -> bool:
        async with self._lock:
            if sh.status != ShipmentStatus.REQUESTED:
                return False
            try:
                ack = await workflow.execute_activity_method(
                    FulfillmentActivities.instruct_node,
                    FulfillmentRequest(
                        shipment_id=sh.shipment_id,
                        order_id=self._order.order_id,
                        node=sh.node,
                        service=sh.service,
                        lines=sh.lines,
                        ship_to=self._order.ship_to or Address(name=f"pickup at {sh.node}"),
                    ),
                    start_to_close_timeout=NODE_CALL_TIMEOUT,
                    schedule_to_close_timeout=NODE_GIVE_UP,
                    retry_policy=NODE_RETRY,
                    summary=f"send fulfilment request {sh.shipment_id} to {sh.node}",
                )
            except ActivityError as e:
                sh.status = ShipmentStatus.REJECTED
                sh.reason = f"node could not take the request: {_cause(e)}"
                self._event("rejected", sh.reason, sh.shipment_id)
                await self._release_and_requeue(sh, sh.reason)
                return False
            self._event("instructed", f"sent to {sh.node} via {ack.adapter}", sh.shipment_id)
            return True

    async def _reroute_rejected(self, sh: Shipment) -> None:
        async with self._lock:
            await self._release_and_requeue(sh, f"rejected: {sh.reason or 'no reason given'}")

    async def _breach(self, sh: Shipment, what: str) -> None:
        async with self._lock:
            if not sh.status.is_open:
                return
            sh.status = ShipmentStatus.TIMED_OUT
            sh.reason = f"SLA breach at {sh.node}: {what}"
            self._escalate(sh.reason)
            await self._cancel_at_node(sh, sh.reason)
            await self._release_and_requeue(sh, sh.reason)

    async def _release_and_requeue(self, sh: Shipment, reason: str) -> None:
        """Give the node's units back to ATP and route them again, never to that node."""
        await self._release(sh.shipment_id, reason)
        for sl in sh.lines:
            bk.line(self._state, sl.line_id).allocated -= sl.qty
        self._excluded[sh.node] = reason
        self._needs_route = True
        self._refresh()

    async def _release(
        self,
        shipment_id: str | None,
        reason: str,
        line_id: str | None = None,
        qty: int | None = None,
    ) -> int:
        key = f"{self._order.order_id}:{shipment_id or 'all'}:{line_id or '*'}:{qty or '*'}"
        result = await workflow.execute_activity_method(
            InventoryActivities.release_reservations,
            ReleaseInput(
                order_id=self._order.order_id,
                shipment_id=shipment_id,
                line_id=line_id,
                qty=qty,
                reason=reason,
                idempotency_key=f"{key}:{self._cancel_seq}:{self._attempt}",
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

    async def _cancel_at_node(self, sh: Shipment, reason: str) -> None:
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

    async def _compensate(self, reason: str) -> None:
        """Saga: undo what was done -- cancel open requests at their nodes, release all units."""
        for sh in bk.open_shipments(self._state):
            sh.status = ShipmentStatus.CANCELLED
            sh.reason = reason
            try:
                await self._cancel_at_node(sh, reason)
            except ActivityError as e:
                self._escalate(f"could not cancel {sh.shipment_id} at {sh.node}: {_cause(e)}")
        await self._release(None, reason)
        for ln in self._state.lines:
            ln.allocated = ln.shipped

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
            sh.status, sh.reason = ShipmentStatus.REJECTED, ev.reason or "no reason given"
            self._event("rejected", f"rejected by {sh.node}: {sh.reason}", sh.shipment_id)
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
        elif ev.type == "shipped" and sh.status in bk._DEAD:
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
            self._cancel_seq += 1
            cancelled: list[ShipmentLine] = []
            released = 0
            touched: dict[str, Shipment] = {}
            for line_id, qty in plan.items():
                ln = bk.line(self._state, line_id)
                remaining = qty
                take = min(remaining, bk.pending_units(ln))  # not routed yet: nothing to undo
                take_bo = min(remaining - take, ln.backordered)
                ln.backordered -= take_bo
                remaining -= take + take_bo
                for sh in reversed(bk.open_shipments(self._state)):
                    for sl in sh.lines:
                        if remaining and sl.line_id == line_id and sl.qty:
                            n = min(sl.qty, remaining)
                            released += await self._release(
                                sh.shipment_id, f"cancelled: {req.reason}", line_id, n
                            )
                            sl.qty -= n
                            ln.allocated -= n
                            remaining -= n
                            touched[sh.shipment_id] = sh
                ln.cancelled += qty - remaining
                cancelled.append(ShipmentLine(line_id=line_id, sku=ln.sku, qty=qty - remaining))
            for sh in touched.values():
                if sh.units == 0:
                    sh.status, sh.reason = ShipmentStatus.CANCELLED, req.reason
                await self._cancel_at_node(sh, f"{req.requested_by}: {req.reason}")
            self._event(
                "cancelled",
                f"{sum(c.qty for c in cancelled)} units cancelled by {req.requested_by}: "
                f"{req.reason}",
            )
            if all(ln.cancelled == ln.qty for ln in self._state.lines):
                self._stop(OrderStatus.CANCELLED, f"cancelled by {req.requested_by}: {req.reason}")
            self._refresh()
            return CancelResult(
                cancelled=cancelled, released_units=released, order_status=self._state.status
            )

    @cancel.validator
    def _validate_cancel(self, req: CancelRequest) -> None:
        _, refusal = bk.cancellation_plan(self._state, req)
        if refusal:
            raise ApplicationError(refusal, type="CancelRefused")

    @workflow.query
    def state(self) -> OrderState:
        return self._state

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

    def _finish(self) -> None:
        if self._state.status in bk.TERMINAL:
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


def _cause(err: BaseException) -> str:
    """The innermost failure message: what actually went wrong, not the wrapper."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
