"""OrderWorkflow: one durable run per order (workflow ID `order-<order_id>`).

validate -> reserve and route -> follow each shipment (instruct, accept, ship, deliver, each
against the node's SLA) -> complete. A follower that ends badly (rejected, SLA breach, node
unreachable) hands its units back to the supervision loop, which releases and re-routes them;
units with no stock wait in a BackorderWorkflow; holds pause every new effect; cancellation (an
Update) and any failure after reserving undo exactly what was done; whatever path the run
takes, it ends holding no reservation. Every handler of the workflow is in this file.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from dom_workflows.backorder.models import StockAvailable
    from dom_workflows.common import errors
    from dom_workflows.common.errors import failure_cause
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.common.text import count
    from dom_workflows.consolidation.models import Consolidated
    from dom_workflows.inventory.inbound import InboundNotice
    from dom_workflows.order import names
    from dom_workflows.order import state as bk
    from dom_workflows.order.backorders import Backorders
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.cancellation import Cancellation
    from dom_workflows.order.closing import Closing
    from dom_workflows.order.consolidation import Consolidation
    from dom_workflows.order.events import apply_event
    from dom_workflows.order.follower import ShipmentFollower
    from dom_workflows.order.holds import Holds
    from dom_workflows.order.models import (
        CancelRequest,
        CancelResult,
        Hold,
        OrderRequest,
        OrderResult,
        OrderState,
        OrderStatus,
        PartnerSetup,
        PaymentSummary,
        PaymentUpdate,
        PlaceHold,
        ReleaseHold,
        Shipment,
        ShipmentEvent,
    )
    from dom_workflows.order.payments import Payments
    from dom_workflows.order.routing import Routing
    from dom_workflows.order.undo import Undo
    from dom_workflows.order.validation import Validation
    from dom_workflows.routing.errors import describe_validation_error

FAILURES = (ActivityError, ApplicationError, ChildWorkflowError)
MAX_EARLY_EVENTS = 50  # events kept for shipments not recorded yet; more is no partner's race
M = TypeVar("M", bound=BaseModel)


def decode(raw: RawValue | None, model: type[M]) -> M | str:
    """A signal's payload as `model`, or what is wrong with it: nothing a sender puts in a
    signal may fail a workflow task."""
    if raw is None:
        return "no payload"
    try:
        return workflow.payload_converter().from_payload(raw.payload, model)
    except ValidationError as e:
        return describe_validation_error(model.__name__, e)[:500]
    except (ValueError, TypeError) as e:
        return str(e).splitlines()[0][:300]


@workflow.defn(name=names.WORKFLOW_TYPE)
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderRequest) -> None:
        self._book = book = OrderBook(order)
        self._lock = asyncio.Lock()  # one ledger- or node-changing step at a time
        self._holds = Holds(book, self._lock)
        self._undo = Undo(book)
        self._payments = Payments(book, self._holds)
        self._backorders = Backorders(book)
        self._consolidation = Consolidation(book)
        self._cancellation = Cancellation(book, self._undo, self._backorders)
        self._closing = Closing(book, self._undo, self._payments)
        self._validation = Validation(book, self._holds)
        self._holds.on_timeout(self._cancel_everything)
        self._routing: Routing | None = None  # once validated
        self._partners = PartnerSetup()
        self._seen_events: dict[str, None] = {}
        # Events about shipments of this order not (yet) in its state, kept until routing
        # records them: a partner may answer before the order has applied its own decision.
        self._early_events: dict[str, list[ShipmentEvent]] = {}
        # Work handed to the supervision loop, in arrival order.
        self._needs_another_node: list[tuple[Shipment, str]] = []
        self._rejected_lines: list[tuple[Shipment, list[ShipmentLine], str]] = []
        self._left_after_cancel: list[Shipment] = []
        self._following = 0
        self._failure: BaseException | None = None

    # ----------------------------------------------------------------- run
    @workflow.run
    async def run(self, order: OrderRequest) -> OrderResult:
        book = self._book
        book.event(
            "received",
            f"order received from {order.channel} with {count(len(order.lines), 'line')}",
        )
        book.refresh()
        try:
            valid = await self._validation.validated(order)
        except asyncio.CancelledError:  # nothing is reserved yet: nothing to undo
            book.stop(OrderStatus.CANCELLED, "the workflow was cancelled from Temporal")
            raise
        if valid is None:  # held as received, then cancelled: nothing was reserved
            await self._closing.close_books()
            return self._result()
        book.policy, self._partners = valid.policy, valid.partners
        self._routing = Routing(book, valid, self._backorders, self._cancellation, self._undo)
        book.event("validated", f"valid; ship-to state {valid.ship_to_state}")
        if valid.review_reason:
            self._holds.place("fraud", valid.review_reason)
        try:
            await self._payments.start(self._partners)
            await self._supervise()
        except asyncio.CancelledError:
            await self._closing.compensate(
                "the workflow was cancelled from Temporal", OrderStatus.CANCELLED
            )
            raise
        except FAILURES as e:
            reason = f"stopped after a failure: {failure_cause(e)}"
            await self._closing.compensate(reason, OrderStatus.FAILED)
            raise ApplicationError(reason, type=errors.ORDER_FAILED, non_retryable=True) from None
        await workflow.wait_condition(workflow.all_handlers_finished)
        if unclaimed := sorted(self._early_events):
            # Reports about requests this order never made: reconciliation asks the node.
            self._book.escalate(f"events for shipments the order never recorded: {unclaimed}")
        self._closing.finish()
        await self._payments.close(f"order {book.state.status.value}")
        await self._closing.close_books()
        return self._result()

    def _result(self) -> OrderResult:
        st = self._book.state
        return OrderResult(
            order_id=st.order_id,
            status=st.status,
            stop_reason=st.stop_reason,
            shipments=st.shipments,
        )

    # ----------------------------------------------------------------- supervision
    def _has_work(self) -> bool:
        return bool(
            (self._routing is not None and self._routing.needed)
            or self._needs_another_node
            or self._rejected_lines
            or self._left_after_cancel
            or self._backorders.woken
            or self._backorders.expired
            or self._backorders.recheck
        )

    async def _supervise(self) -> None:
        """Do what the followers, partners and the backorder handed over; return once every
        shipment has settled and nothing waits for stock."""
        while True:
            await workflow.wait_condition(
                lambda: (
                    self._has_work()
                    or self._failure is not None
                    or (self._following == 0 and not self._backorders.open)
                )
            )
            if self._failure is not None:
                raise self._failure
            if not self._has_work():
                return
            async with self._lock:
                await self._handle_work()

    async def _handle_work(self) -> None:
        routing = self._routing
        assert routing is not None
        while self._rejected_lines:
            await routing.reroute_lines(*self._rejected_lines.pop(0))
        while self._needs_another_node:
            await routing.reroute(*self._needs_another_node.pop(0))
        while self._left_after_cancel:
            await self._undo.record_units_gone(self._left_after_cancel.pop(0))
        if plan := self._backorders.expiry_plan():
            await self._cancellation.cancel(plan, "backorder deadline passed", "backorder policy")
        if routing.needed:
            self._follow(await routing.route())
        if self._backorders.recheck:
            await self._backorders.promise()
        while self._backorders.woken:
            sku = self._backorders.woken.pop(0)
            if self._backorders.make_routable(sku):
                self._follow(await routing.route(from_backorder=True))
            await self._backorders.sync(woken_sku=sku)
        self._book.refresh()

    def _follow(self, shipments: list[Shipment]) -> None:
        for sh in shipments:
            for ev in self._early_events.pop(sh.shipment_id, []):
                self._apply_event(sh, ev)
            self._following += 1
            asyncio.create_task(self._follow_one(sh))  # noqa: RUF006 -- the counter tracks it

    async def _follow_one(self, sh: Shipment) -> None:
        follower = ShipmentFollower(
            sh,
            book=self._book,
            lock=self._lock,
            holds=self._holds,
            undo=self._undo,
            payments=self._payments,
            consolidation=self._consolidation,
            partners=self._partners,
        )
        try:
            outcome = await follower.run()
            if outcome.needs_another_node:
                self._needs_another_node.append((sh, sh.reason or outcome.value))
        except FAILURES as e:
            self._failure = self._failure or e
        finally:
            self._following -= 1

    # ----------------------------------------------------------------- undo and the end
    async def _settled_lock(self) -> None:
        """Take the lock once the loop has settled what followers and partners handed over,
        so a cancellation never races a release it cannot see."""
        while True:
            await workflow.wait_condition(
                lambda: not (self._needs_another_node or self._rejected_lines)
            )
            await self._lock.acquire()
            if not (self._needs_another_node or self._rejected_lines):
                return
            self._lock.release()

    async def _cancel_everything(self, reason: str) -> None:
        await self._settled_lock()
        try:
            if self._book.terminal():
                return
            if plan := self._cancellation.everything():
                await self._cancellation.cancel(plan, reason, "hold timeout")
            elif self._routing is None:  # held as received with nothing to cancel
                self._book.stop(OrderStatus.CANCELLED, reason)
        finally:
            self._lock.release()

    # ----------------------------------------------------------------- signals
    @workflow.signal(name=names.SHIPMENT_EVENT)
    def shipment_event(self, raw: RawValue) -> None:
        """A node's or carrier's report. Redelivered events (same event_id) change nothing;
        malformed ones are noted in the timeline and change nothing."""
        ev = decode(raw, ShipmentEvent)
        if isinstance(ev, str):
            self._book.event("ignored", f"malformed shipment event: {ev}")
            return
        if ev.event_id in self._seen_events:
            return
        self._seen_events[ev.event_id] = None
        sh = next((s for s in self._book.state.shipments if s.shipment_id == ev.shipment_id), None)
        if sh is not None:
            self._apply_event(sh, ev)
        elif self._may_be_ours(ev):
            self._early_events.setdefault(ev.shipment_id, []).append(ev)
            self._book.event(
                "early", f"{ev.type} kept until the order records the shipment", ev.shipment_id
            )
        else:
            self._book.event("ignored", f"{ev.type} for unknown shipment {ev.shipment_id}")

    def _may_be_ours(self, ev: ShipmentEvent) -> bool:
        """A shipment id this order's routing can still produce (`<order>:<attempt>:<node>`),
        while the buffer is small: anything else cannot become one of its shipments."""
        return (
            ev.shipment_id.startswith(f"{self._book.order_id}:")
            and not self._book.terminal()
            and sum(len(v) for v in self._early_events.values()) < MAX_EARLY_EVENTS
        )

    def _apply_event(self, sh: Shipment, ev: ShipmentEvent) -> None:
        follow = apply_event(self._book, sh, ev, workflow.now())
        if follow.rejected_lines:
            self._rejected_lines.append((sh, follow.rejected_lines, ev.reason or "no reason given"))
        if follow.left_after_cancel:
            self._left_after_cancel.append(sh)

    @workflow.signal(name=names.STOCK_AVAILABLE)
    def stock_available(self, raw: RawValue) -> None:
        """The backorder child: stock for a SKU this order waits for has arrived."""
        msg = decode(raw, StockAvailable)
        if isinstance(msg, str):
            self._book.event("ignored", f"malformed stock notice: {msg}")
        elif any(ln.sku == msg.sku and ln.backordered for ln in self._book.state.lines):
            self._backorders.stock_arrived(msg.sku)

    @workflow.signal(name=names.INBOUND_CHANGED)
    def inbound_changed(self, raw: RawValue) -> None:
        """Inbound supply this order pre-ordered against is late, early or cancelled: the order
        reads its expected dates again. Duplicates are harmless."""
        msg = decode(raw, InboundNotice)
        if isinstance(msg, str):
            self._book.event("ignored", f"malformed inbound notice: {msg}")
        elif self._book.state.backorders and not self._book.terminal():
            self._backorders.inbound_changed(msg)

    @workflow.signal(name=names.CONSOLIDATED)
    def consolidated(self, raw: RawValue) -> None:
        """The customer's consolidation group answers: ship with these shipments."""
        msg = decode(raw, Consolidated)
        if isinstance(msg, str):
            self._book.event("ignored", f"malformed consolidation answer: {msg}")
        else:
            self._consolidation.answered(msg)

    # ----------------------------------------------------------------- updates and query
    @workflow.update  # names.CANCEL
    async def cancel(self, req: CancelRequest) -> CancelResult:
        """Cancel the whole order or some units; releases exactly those units."""
        await self._settled_lock()
        try:
            plan, refusal = bk.cancellation_plan(self._book.state, req)
            if refusal:  # the state moved on between the validator and the lock
                raise ApplicationError(refusal, type=errors.CANCEL_REFUSED, non_retryable=True)
            cancelled, released = await self._cancellation.cancel(
                plan, req.reason, req.requested_by, must_cancel=True
            )
        finally:
            self._lock.release()
        return CancelResult(
            cancelled=cancelled,
            released_units=released,
            order_status=self._book.state.status,
            amount_not_charged=self._payments.units_cancelled(cancelled),
        )

    @cancel.validator
    def _validate_cancel(self, req: CancelRequest) -> None:
        _, refusal = bk.cancellation_plan(self._book.state, req)
        if refusal:
            raise ApplicationError(refusal, type=errors.CANCEL_REFUSED, non_retryable=True)

    @workflow.update(name=names.PLACE_HOLD)
    def place_hold(self, req: PlaceHold) -> list[Hold]:
        self._holds.place(req.kind, req.reason, req.placed_by)
        return self._book.state.holds

    @place_hold.validator
    def _validate_place_hold(self, req: PlaceHold) -> None:
        if refusal := self._holds.refuse_place(req):
            raise ApplicationError(refusal, type=errors.HOLD_REFUSED, non_retryable=True)

    @workflow.update(name=names.RELEASE_HOLD)
    def release_hold(self, req: ReleaseHold) -> list[Hold]:
        self._holds.release(req.kind, req.note, req.released_by)
        return self._book.state.holds

    @release_hold.validator
    def _validate_release_hold(self, req: ReleaseHold) -> None:
        if refusal := self._holds.refuse_release(req):
            raise ApplicationError(refusal, type=errors.HOLD_REFUSED, non_retryable=True)

    @workflow.update  # names.UPDATE_PAYMENT
    async def update_payment(self, req: PaymentUpdate) -> PaymentSummary:
        """The customer supplied another payment method after a decline."""
        async with self._lock:
            if await self._payments.authorize(req.payment_token):
                self._holds.release("payment", "payment authorized", "customer")
        assert self._book.state.payment is not None
        return self._book.state.payment

    @update_payment.validator
    def _validate_update_payment(self, req: PaymentUpdate) -> None:
        if refusal := self._payments.refuse_update():
            raise ApplicationError(refusal, type=errors.PAYMENT_REFUSED, non_retryable=True)

    @workflow.query(name=names.STATE)
    def state(self) -> OrderState:
        return self._book.state
