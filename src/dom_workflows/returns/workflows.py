"""ReturnWorkflow: one durable run per RMA (workflow ID `return-<rma_id>`).

read the order -> open (validate lines, delivery and window; record the RMA in the database,
where over-return is impossible) -> return label -> wait for the return node's receipt until
the window closes (else expire: release the RMA's units, void the label) -> record the grades ->
restock resellable units and wake backorders -> refund each capture, or start the replacement
order of an exchange -> close.

An RMA that cannot be opened fails (type UnknownOrder / InvalidReturn / ReturnRefused / RmaTaken)
so its number can be used again; callers wait for the `state` query to leave
`return_requested` (DomClient.create_return), which says open or refused and why.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import (
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

from dom_workflows.common.errors import RETURN_REFUSED, failure_cause
from dom_workflows.common.retry import CARRIER, DATABASE, PAYMENT, SIGNAL
from dom_workflows.shipping.labels import buy_cheapest_label

with workflow.unsafe.imports_passed_through():
    from activities.carrier.activities import CarrierActivities
    from activities.payment.activities import PaymentActivities
    from activities.returns.activities import ReturnActivities, ReturnClientActivities
    from dom_workflows.common.text import count
    from dom_workflows.money import Money
    from dom_workflows.order import search_attributes as attrs
    from dom_workflows.order.models import OrderRequest, TimelineEvent, order_workflow_id
    from dom_workflows.payment.models import Refund
    from dom_workflows.returns import logic
    from dom_workflows.returns.models import (
        REFUND_SEQ_BASE,
        REFUSAL_TYPES,
        CloseReturn,
        ExchangeLine,
        GradedLine,
        OpenedReturn,
        OpenReturn,
        OrderSnapshot,
        ReadOrder,
        RecordReceipt,
        RefundRecord,
        Restock,
        ReturnInput,
        ReturnLabel,
        ReturnLineState,
        ReturnReceipt,
        ReturnResult,
        ReturnState,
        ReturnStatus,
        WakeBackorders,
        exchange_order_id,
        return_workflow_id,
    )
    from dom_workflows.shipping.models import Parcel, RateRequest, VoidLabel

# The exchange's replacement order is an OrderWorkflow, started by type name: the returns
# domain does not import the order workflow.
ORDER_WORKFLOW = "OrderWorkflow"


@workflow.defn
class ReturnWorkflow:
    @workflow.init
    def __init__(self, inp: ReturnInput) -> None:
        self._inp = inp
        self._state = ReturnState(
            rma_id=inp.rma_id,
            order_id=inp.order_id,
            workflow_id=return_workflow_id(inp.rma_id),
            status=ReturnStatus.REQUESTED,
            requested_by=inp.request.requested_by,
            exchange=inp.request.exchange,
        )
        self._snapshot: OrderSnapshot | None = None
        self._receipt: ReturnReceipt | None = None
        self._seen_events: set[str] = set()
        # Set once the run decided how the RMA ends; a receipt after that is escalated.
        self._closing = False

    # ----------------------------------------------------------------- run
    @workflow.run
    async def run(self, inp: ReturnInput) -> ReturnResult:
        units = sum(ln.qty for ln in inp.request.lines)
        self._event(
            "requested",
            f"{count(units, 'unit')} of order {inp.order_id} asked back by {inp.request.requested_by}"
            + (" for an exchange" if inp.request.exchange else ""),
        )
        self._refresh()
        try:
            opened = await self._open(inp)
        except ActivityError as e:
            cause = e.cause
            kind = (
                cause.type
                if isinstance(cause, ApplicationError) and cause.type in REFUSAL_TYPES
                else RETURN_REFUSED
            )
            reason = failure_cause(e)
            self._state.refusal_kind = kind
            self._stop(ReturnStatus.REFUSED, reason)
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise ApplicationError(reason, type=kind, non_retryable=True) from None

        await self._issue_label(opened)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._receipt is not None,
                timeout=max(opened.deadline - workflow.now(), timedelta(seconds=1)),
                timeout_summary=f"return window: {opened.return_node} to receive {opened.rma_id} "
                f"by {opened.deadline:%Y-%m-%d %H:%M} UTC",
            )
        self._closing = True
        if self._receipt is None:
            await self._expire(opened)
        else:
            await self._receive(opened, self._receipt)
        await workflow.wait_condition(workflow.all_handlers_finished)
        st = self._state
        return ReturnResult(
            rma_id=st.rma_id,
            status=st.status,
            refunded=st.refunded,
            manual_refund=st.manual_refund,
            exchange_order_id=st.exchange_order_id,
            stop_reason=st.stop_reason,
        )

    async def _open(self, inp: ReturnInput) -> OpenedReturn:
        self._snapshot = await workflow.execute_activity_method(
            ReturnClientActivities.read_order_for_return,
            ReadOrder(order_id=inp.order_id),
            **SIGNAL,
            summary=f"read order {inp.order_id}",
        )
        opened = await workflow.execute_activity_method(
            ReturnActivities.open_return,
            OpenReturn(
                rma_id=inp.rma_id,
                order_id=inp.order_id,
                seq=inp.seq,
                request=inp.request,
                order=self._snapshot,
                as_of=workflow.now(),
            ),
            **DATABASE,
            summary=f"check {count(len(inp.request.lines), 'line')} against delivery and the return "
            f"window; record {inp.rma_id}",
        )
        st = self._state
        st.customer_id = opened.customer.id
        st.return_node = opened.return_node
        st.deadline = opened.deadline
        st.lines = [
            ReturnLineState(
                line_id=ln.line_id,
                sku=ln.sku,
                qty=ln.qty,
                unit_price=ln.unit_price,
                reason=ln.reason,
            )
            for ln in opened.lines
        ]
        st.status = ReturnStatus.OPEN
        self._event(
            "opened",
            f"{inp.rma_id} open: return to {opened.return_node} by "
            f"{opened.deadline:%Y-%m-%d %H:%M} UTC",
        )
        self._refresh()
        return opened

    # ----------------------------------------------------------------- label
    async def _issue_label(self, opened: OpenedReturn) -> None:
        if not opened.partners.return_labels:
            self._event("label", "no carrier integration: no return label issued")
            return
        if opened.ship_to is None:
            self._event("label", "the order had no ship-to address: no return label issued")
            return
        try:
            label = await buy_cheapest_label(
                RateRequest(
                    shipment_id=opened.rma_id,
                    order_id=opened.order_id,
                    ship_from=opened.ship_to,
                    ship_to=opened.return_address,
                    parcel=Parcel(weight_lb=opened.parcel_lb),
                ),
                what=f"the return of {opened.rma_id}",
                is_return=True,
            )
        except ActivityError as e:
            self._escalate(f"return label for {opened.rma_id} not bought: {failure_cause(e)}")
            return
        if label is None:
            self._escalate(f"no carrier quoted the return of {opened.rma_id}; send a label")
            return
        self._state.label = ReturnLabel(
            label_id=label.label_id,
            carrier=label.carrier,
            service=label.service,
            tracking=label.tracking,
            label_url=label.label_url,
            cost=label.cost,
        )
        self._event("label", f"{label.carrier} {label.service} return label {label.tracking}")
        self._refresh()

    # ----------------------------------------------------------------- receipt
    async def _receive(self, opened: OpenedReturn, receipt: ReturnReceipt) -> None:
        st = self._state
        st.status = ReturnStatus.RECEIVED
        problems = logic.receipt_problems(st.lines, receipt)
        if problems:
            self._escalate(
                f"receipt {receipt.event_id} does not match {st.rma_id}: "
                + "; ".join(problems)
                + " (only authorised units are counted)"
            )
        graded = logic.grade(st.lines, receipt)
        for g, ln in zip(graded, st.lines, strict=True):
            ln.received, ln.resell, ln.refurbish, ln.scrap = (
                g.received,
                g.resell,
                g.refurbish,
                g.scrap,
            )
        self._event(
            "received",
            f"{count(sum(g.received for g in graded), 'unit')} received at {opened.return_node}: "
            f"{sum(g.resell for g in graded)} resell, {sum(g.refurbish for g in graded)} "
            f"refurbish, {sum(g.scrap for g in graded)} scrap",
        )
        self._refresh()
        await workflow.execute_activity_method(
            ReturnActivities.record_return_receipt,
            RecordReceipt(rma_id=st.rma_id, lines=graded),
            **DATABASE,
            summary=f"record the grades of {st.rma_id}",
        )
        for g, ln in zip(graded, st.lines, strict=True):
            if g.resell:
                await self._restock(opened, g, ln)
        if not any(g.received for g in graded):
            self._escalate(f"nothing authorised on {st.rma_id} came back; nothing to refund")
            await self._close(ReturnStatus.CLOSED, "nothing authorised was received")
            return
        if opened.exchange:
            await self._exchange(opened, graded)
        else:
            await self._refund(opened, graded)

    async def _restock(self, opened: OpenedReturn, g: GradedLine, ln: ReturnLineState) -> None:
        restock = Restock(
            rma_id=opened.rma_id,
            line_id=g.line_id,
            node=opened.return_node,
            sku=g.sku,
            qty=g.resell,
        )
        await workflow.execute_activity_method(
            ReturnActivities.restock_returned,
            restock,
            **DATABASE,
            summary=f"restock {g.resell} x {g.sku} at {opened.return_node}",
        )
        ln.restocked = g.resell
        self._event("restocked", f"{g.resell} x {g.sku} back in stock at {opened.return_node}")
        await workflow.execute_activity_method(
            ReturnClientActivities.wake_backorders,
            WakeBackorders(
                sku=g.sku, node=opened.return_node, qty=g.resell, reference=restock.reference
            ),
            **SIGNAL,
            summary=f"wake backorders waiting for {g.sku}",
        )

    async def _refund(self, opened: OpenedReturn, graded: list[GradedLine]) -> None:
        st = self._state
        zero = Money.zero(opened.currency)
        plan, manual = logic.refund_plan(opened, graded)
        if opened.payment_mode == "channel":
            due = sum((a for _, a in plan), start=manual)
            channel = self._refund_at_channel(opened, due)
            await self._close(ReturnStatus.REFUND_AT_CHANNEL, f"{due} to be refunded at {channel}")
            return
        why: list[str] = []
        if manual.amount > 0:
            why.append(f"{manual} was not captured by the DOM (no capture to refund against)")
        if plan and not opened.partners.refunds:
            unpaid = sum((amount for _, amount in plan), start=zero)
            why.append(f"{unpaid}: no payment provider is configured")
            manual, plan = manual + unpaid, []
        refunded = zero
        for k, (capture_id, amount) in enumerate(plan, start=1):
            seq = REFUND_SEQ_BASE * opened.seq + k
            try:
                result = await workflow.execute_activity_method(
                    PaymentActivities.refund_payment,
                    Refund(
                        capture_id=capture_id,
                        order_id=opened.order_id,
                        seq=seq,
                        amount=amount,
                        reason=f"return {opened.rma_id}",
                    ),
                    **PAYMENT,
                    summary=f"refund {amount} on capture {capture_id}",
                )
            except ActivityError as e:
                why.append(f"{amount} on capture {capture_id}: {failure_cause(e)}")
                manual = manual + amount
                continue
            st.refunds.append(
                RefundRecord(
                    seq=seq, capture_id=capture_id, amount=result.amount, refund_id=result.refund_id
                )
            )
            refunded = refunded + result.amount
            self._event("refunded", f"{result.amount} refunded on capture {capture_id}")
        st.refunded = refunded if st.refunds else None
        if manual.amount > 0:
            st.manual_refund = manual
            self._escalate(f"{manual} to be refunded manually: " + "; ".join(why))
            await self._close(ReturnStatus.REFUND_MANUAL, f"{manual} to be refunded manually")
        else:
            await self._close(ReturnStatus.REFUNDED, f"{refunded} refunded")

    def _refund_at_channel(self, opened: OpenedReturn, amount: Money) -> str:
        """The customer paid at the channel: the DOM sends nothing to its provider; the refund
        is recorded and reported (timeline and escalation) for the channel to make."""
        channel = self._snapshot.request.channel if self._snapshot else "the channel"
        self._state.refunds.append(
            RefundRecord(
                seq=REFUND_SEQ_BASE * opened.seq + 1, amount=amount, status="to_refund_at_channel"
            )
        )
        self._event("refund-at-channel", f"{amount} to be refunded by {channel}")
        self._escalate(
            f"{amount} for {opened.rma_id} to be refunded at {channel}: the order was paid there"
        )
        return channel

    async def _exchange(self, opened: OpenedReturn, graded: list[GradedLine]) -> None:
        complete = all(g.received == ln.qty for g, ln in zip(graded, opened.lines, strict=True))
        if opened.exchange_lines is None:
            wanted: dict[str, int] = {}
            for g in graded:
                if g.received:
                    wanted[g.sku] = wanted.get(g.sku, 0) + g.received
            lines = [ExchangeLine(sku=sku, qty=qty) for sku, qty in wanted.items()]
        elif complete:
            lines = opened.exchange_lines
        else:
            self._escalate(
                f"exchange {opened.rma_id}: not every unit came back, so the requested "
                "replacement was not ordered; the units received are refunded instead"
            )
            await self._refund(opened, graded)
            return
        assert self._snapshot is not None
        order = logic.replacement_order(
            self._snapshot.request,
            order_id=exchange_order_id(opened.order_id, opened.seq),
            rma_id=opened.rma_id,
            currency=opened.currency,
            lines=lines,
        )
        await self._start_replacement(order, opened.rma_id)
        self._state.exchange_order_id = order.order_id
        what = ", ".join(f"{x.sku} x{x.qty}" for x in lines)
        await self._close(ReturnStatus.EXCHANGED, f"replacement order {order.order_id}: {what}")

    async def _start_replacement(self, order: OrderRequest, rma_id: str) -> None:
        """Start the replacement order as a child OrderWorkflow (by type name) that outlives
        this RMA. Its workflow id is the order's, `order-<order_id>-X<n>`, derived from the RMA:
        the same idempotency key DomClient.submit uses. If that id is already taken (this RMA
        was reset or re-run after starting it, or the order was submitted by hand) the order
        exists: it is not started twice, and the RMA still ends exchanged."""
        try:
            await workflow.start_child_workflow(
                ORDER_WORKFLOW,
                order,
                id=order_workflow_id(order.order_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(attrs.ORDER_STATUS, "received"),
                        SearchAttributePair(attrs.SALES_CHANNEL, order.channel),
                        SearchAttributePair(attrs.CUSTOMER_ID, order.customer.id),
                        SearchAttributePair(attrs.CUSTOMER_TIER, order.customer.tier),
                        SearchAttributePair(attrs.ORDER_VALUE, float(order.value().amount)),
                    ]
                ),
                static_summary=logic.replacement_summary(order, rma_id),
            )
        except WorkflowAlreadyStartedError:
            self._event(
                "exchange",
                f"replacement order {order.order_id} already exists; not started again",
            )
            return
        self._event("exchange", f"replacement order {order.order_id} started")

    async def _close(self, status: ReturnStatus, reason: str) -> None:
        await workflow.execute_activity_method(
            ReturnActivities.close_return,
            CloseReturn(rma_id=self._state.rma_id, status=status.value),
            **DATABASE,
            summary=f"close {self._state.rma_id} ({status.value})",
        )
        self._stop(status, reason)

    # ----------------------------------------------------------------- expiry
    async def _expire(self, opened: OpenedReturn) -> None:
        expired = await workflow.execute_activity_method(
            ReturnActivities.expire_return,
            CloseReturn(rma_id=opened.rma_id, status=ReturnStatus.EXPIRED.value),
            **DATABASE,
            summary=f"expire {opened.rma_id}: its units are no longer expected back",
        )
        label = self._state.label
        if label is not None and not label.voided:
            try:
                await workflow.execute_activity_method(
                    CarrierActivities.void_label,
                    VoidLabel(
                        label_id=label.label_id, shipment_id=opened.rma_id, reason="RMA expired"
                    ),
                    **CARRIER,
                    summary=f"void return label {label.tracking}",
                )
                label.voided = True
                self._event("label-voided", f"return label {label.tracking} voided")
            except ActivityError as e:
                self._escalate(f"return label {label.label_id} not voided: {failure_cause(e)}")
        self._stop(
            ReturnStatus.EXPIRED,
            f"{count(expired.units, 'unit')} not received at {opened.return_node} before the return "
            f"window closed on {opened.deadline:%Y-%m-%d %H:%M} UTC",
        )

    # ----------------------------------------------------------------- messages
    @workflow.signal
    def received(self, receipt: ReturnReceipt) -> None:
        """The return node's `return.received` event. Redelivered events change nothing."""
        if receipt.event_id in self._seen_events:
            return
        self._seen_events.add(receipt.event_id)
        if (
            self._closing
            or self._receipt is not None
            or self._state.status
            not in (
                ReturnStatus.REQUESTED,
                ReturnStatus.OPEN,
            )
        ):
            units = sum(r.qty for r in receipt.lines)
            self._escalate(
                f"receipt {receipt.event_id} ({count(units, 'unit')}) arrived while {self._state.rma_id} "
                f"was {self._state.status.value}; not applied, handle the units manually"
            )
            return
        self._receipt = receipt
        self._state.receipt_event_id = receipt.event_id

    @workflow.query
    def state(self) -> ReturnState:
        return self._state

    # ----------------------------------------------------------------- bookkeeping
    def _event(self, kind: str, message: str) -> None:
        self._state.timeline.append(TimelineEvent(at=workflow.now(), kind=kind, message=message))

    def _escalate(self, message: str) -> None:
        self._state.escalations.append(message)
        self._event("escalated", message)
        self._refresh()

    def _stop(self, status: ReturnStatus, reason: str) -> None:
        self._state.status = status
        self._state.stop_reason = reason
        self._event(status.value, reason)
        self._refresh()

    def _refresh(self) -> None:
        st = self._state
        updates: list[SearchAttributeUpdate[Any]] = [
            attrs.ORDER_STATUS.value_set(st.status.value),
            attrs.ESCALATED.value_set(bool(st.escalations)),
        ]
        if st.customer_id:
            updates.append(attrs.CUSTOMER_ID.value_set(st.customer_id))
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(logic.details_markdown(st))
