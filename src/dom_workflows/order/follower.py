"""One shipment's life after routing: instruct the node (or send the supplier a purchase
order), wait for it to accept and ship within its SLA, buy a label for a store, record the
units leaving, charge them, wait for delivery. The follower returns an Outcome; what happens
next (re-route, backorder, nothing) is the order's decision."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from dom_workflows.common.retry import DATABASE, NODE_GIVE_UP, NODE_ONCE

with workflow.unsafe.imports_passed_through():
    from activities.fulfillment.activities import FulfillmentActivities
    from activities.inventory.activities import InventoryActivities
    from activities.supplier.activities import SupplierActivities
    from dom_workflows.common.errors import failure_cause, is_final
    from dom_workflows.common.models import Address
    from dom_workflows.common.text import units
    from dom_workflows.fulfillment.models import FulfillmentRequest
    from dom_workflows.insight.models import outcome_of
    from dom_workflows.inventory.models import ConsumeInput
    from dom_workflows.order import state as bk
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.consolidation import Consolidation
    from dom_workflows.order.holds import Holds
    from dom_workflows.order.models import PartnerSetup, Shipment, ShipmentStatus
    from dom_workflows.order.payments import Payments
    from dom_workflows.order.undo import Undo
    from dom_workflows.shipping.labels import buy_cheapest_label
    from dom_workflows.shipping.models import Parcel, RateRequest
    from dom_workflows.supplier.models import PurchaseOrder, PurchaseOrderLine, po_id_for


class Outcome(StrEnum):
    DELIVERED = "delivered"
    UNCONFIRMED = "unconfirmed"  # shipped; no delivery confirmation within the SLA
    REJECTED = "rejected"  # the node said no: its units need another node
    BREACHED = "breached"  # missed an SLA and was cancelled at the node: another node
    UNREACHABLE = "unreachable"  # the request could not be delivered to the node
    ENDED = "ended"  # cancelled by the order, or nothing left to send

    @property
    def needs_another_node(self) -> bool:
        return self in (Outcome.REJECTED, Outcome.BREACHED, Outcome.UNREACHABLE)


class ShipmentFollower:
    def __init__(
        self,
        sh: Shipment,
        *,
        book: OrderBook,
        lock: asyncio.Lock,
        holds: Holds,
        undo: Undo,
        payments: Payments,
        consolidation: Consolidation,
        partners: PartnerSetup,
    ) -> None:
        self.sh = sh
        self._book = book
        self._lock = lock
        self._holds = holds
        self._undo = undo
        self._payments = payments
        self._consolidation = consolidation
        self._partners = partners

    async def run(self) -> Outcome:
        sh = self.sh
        sent = await self._instruct()
        if sent is not None:
            return sent
        while not await self._wait(
            lambda: sh.status != ShipmentStatus.REQUESTED,
            sh.sla.accept_within,
            f"{sh.node} to accept {sh.shipment_id}",
        ):
            if await self._breach(f"not accepted within {sh.sla.accept_within}"):
                return Outcome.BREACHED
        if sh.status == ShipmentStatus.ACCEPTED:
            await self._buy_label()
        while not await self._wait(
            lambda: sh.status != ShipmentStatus.ACCEPTED,
            sh.sla.ship_within,
            f"{sh.node} to ship {sh.shipment_id}",
        ):
            if await self._breach(f"not shipped within {sh.sla.ship_within} of acceptance"):
                return Outcome.BREACHED
        if sh.status == ShipmentStatus.REJECTED:
            return Outcome.REJECTED
        if sh.status not in bk.SHIPPED_STATES:
            return Outcome.ENDED
        await self._left_the_node()
        if await self._wait(
            lambda: sh.status == ShipmentStatus.DELIVERED,
            sh.sla.deliver_within,
            f"delivery of {sh.shipment_id}",
        ):
            return Outcome.DELIVERED
        self._book.escalate(f"{sh.shipment_id} not delivered within {sh.sla.deliver_within}")
        return Outcome.UNCONFIRMED

    async def _wait(self, done: Callable[[], bool], within: timedelta, what: str) -> bool:
        """Wait for `done` (or the shipment's end); False when the SLA ran out first."""
        sh = self.sh
        try:
            await workflow.wait_condition(
                lambda: done() or sh.status in bk.DEAD,
                timeout=within,
                timeout_summary=f"SLA: {what} within {within}",
            )
        except TimeoutError:
            return done() or sh.status in bk.DEAD  # what raced the timer counts, no breach
        return True

    async def _instruct(self) -> Outcome | None:
        """Send the request; None when it was sent, else why not."""
        sh, book = self.sh, self._book
        await workflow.wait_condition(lambda: not self._holds.held or book.terminal())
        await self._consolidation.join(sh)
        await self._holds.clear_to_start()  # a hold placed while joining is honoured here
        if sh.status in (ShipmentStatus.CANCELLED, ShipmentStatus.TIMED_OUT):
            return Outcome.ENDED
        if book.winding_down or sh.units == 0:
            return Outcome.ENDED
        if sh.status == ShipmentStatus.REJECTED:  # the node refused before it was asked
            return Outcome.REJECTED
        if sh.status != ShipmentStatus.REQUESTED:  # it reported progress: it has the request
            book.event("instructed", f"{sh.node} had it already", sh.shipment_id)
            return None
        # Other shipments' requests go out at the same time; a cancel or amend of this one
        # waits until the request has reached the node (Undo.sending).
        self._undo.sending[sh.shipment_id] = None
        try:
            via = await self._send()
        except FailureError as e:
            sh.status = ShipmentStatus.REJECTED
            sh.reason = f"node could not take the request: {failure_cause(e)}"
            book.event("rejected", sh.reason, sh.shipment_id)
            return Outcome.UNREACHABLE
        finally:
            del self._undo.sending[sh.shipment_id]
        book.event("instructed", f"sent to {sh.node} via {via}", sh.shipment_id)
        return None

    async def _send(self) -> str:
        """Deliver the request: one HTTP call with an Idempotency-Key per try. Each try is an
        activity, not a local one, so the request leaves only once the decision to send it is
        in the history: a partner answers at once, and its events must find the shipment there
        (a worker killed after a local activity but before its workflow task completed would
        have sent a request the order does not know of yet). A node that cannot be reached is
        tried again on durable timers until NODE_GIVE_UP; a refusal or the give-up raises."""
        sh, book = self.sh, self._book
        give_up = workflow.now() + NODE_GIVE_UP
        pause = timedelta(seconds=2)
        while True:
            try:
                return await self._send_once()
            except FailureError as e:
                if is_final(e) or book.winding_down or workflow.now() + pause > give_up:
                    raise
            with contextlib.suppress(TimeoutError):  # the pause, cut short by the saga
                await workflow.wait_condition(
                    lambda: book.winding_down,
                    timeout=pause,
                    timeout_summary=f"{sh.node} unreachable: try again in {pause}",
                )
            if book.winding_down:
                raise ApplicationError(
                    "the order is being undone: the request was not sent", non_retryable=True
                )
            pause = min(pause * 2, timedelta(minutes=2))

    async def _send_once(self) -> str:
        sh, order = self.sh, self._book.order
        ship_to = order.ship_to or Address(name=f"pickup at {sh.node}")
        if sh.node_type == "dropship" and self._partners.supplier_pos:
            po = await workflow.execute_activity_method(
                SupplierActivities.send_purchase_order,
                PurchaseOrder(
                    po_id=po_id_for(sh.shipment_id),
                    shipment_id=sh.shipment_id,
                    order_id=order.order_id,
                    supplier=sh.node,
                    service=sh.service,
                    lines=[
                        PurchaseOrderLine(line_id=sl.line_id, sku=sl.sku, qty=sl.qty)
                        for sl in sh.lines
                        if sl.qty
                    ],
                    ship_to=ship_to,
                ),
                **NODE_ONCE,
                summary=f"send purchase order {po_id_for(sh.shipment_id)} to {sh.node}",
            )
            sh.po_id = po.po_id
            return f"purchase order {po.po_id}"
        ack = await workflow.execute_activity_method(
            FulfillmentActivities.instruct_node,
            FulfillmentRequest(
                shipment_id=sh.shipment_id,
                order_id=order.order_id,
                node=sh.node,
                service=sh.service,
                lines=sh.lines,
                ship_to=ship_to,
                consolidation_group=sh.consolidation_group,
            ),
            **NODE_ONCE,
            summary=f"send fulfilment request {sh.shipment_id} to {sh.node} ({units(sh.units)})",
        )
        return ack.adapter

    async def _breach(self, what: str) -> bool:
        """Cancel a late request at its node. False when there is no breach after all (the
        node answered while we took the lock) or the node refuses to cancel (it says the work
        is under way): then its units stay reserved there, ops are told, and we keep waiting."""
        sh, book = self.sh, self._book
        async with self._lock:
            if not sh.status.is_open:
                return False
            breach = f"SLA breach at {sh.node}: {what}"
            book.escalate(breach)
            try:
                rejected = await self._undo.cancel_at_node(sh, breach)
            except ActivityError as e:
                book.escalate(
                    f"{sh.node} refused to cancel {sh.shipment_id} ({failure_cause(e)}); "
                    "its units stay reserved there and the order keeps waiting for it"
                )
                return False
            if not sh.status.is_open:
                return False  # it shipped (or was rejected) while the cancel was on its way
            if rejected:  # its rejection never reached us: the node's answer to the cancel says so
                reason = f"{sh.node} had rejected it (its rejection event never arrived)"
                book.state.rejections.append(f"{sh.node} rejected {sh.shipment_id}: {reason}")
                book.event("rejected", reason, sh.shipment_id)
                sh.status, sh.reason = ShipmentStatus.REJECTED, reason
                return True
            sh.status, sh.reason = ShipmentStatus.TIMED_OUT, breach
            return True

    async def _buy_label(self) -> None:
        """Ship-from-store: stores have no carrier account, so the DOM buys the label."""
        sh, order = self.sh, self._book.order
        if (
            sh.node_type != "store"
            or sh.label_id
            or not self._partners.carrier_labels
            or sh.ship_from is None
            or order.ship_to is None
        ):
            return
        weight = max(Decimal(1), (sh.billable_lb or Decimal(1)).to_integral_value(ROUND_CEILING))
        await self._holds.clear_to_start()
        if sh.status != ShipmentStatus.ACCEPTED:
            return
        self._undo.sending[sh.shipment_id] = None  # a cancel voids the label once it exists
        try:
            label = await buy_cheapest_label(
                RateRequest(
                    shipment_id=sh.shipment_id,
                    order_id=order.order_id,
                    ship_from=sh.ship_from,
                    ship_to=order.ship_to,
                    parcel=Parcel(weight_lb=weight),
                    promise_days=order.promise_days,
                ),
                what=f"{sh.shipment_id} from {sh.node}",
            )
        except ActivityError as e:
            self._book.escalate(
                f"label for {sh.shipment_id} could not be bought: {failure_cause(e)}"
            )
            return
        finally:
            del self._undo.sending[sh.shipment_id]
        if label is None:
            self._book.escalate(f"no carrier quoted {sh.shipment_id}; the store must arrange it")
            return
        sh.label_id, sh.carrier, sh.tracking = label.label_id, label.carrier, label.tracking
        self._book.event(
            "label",
            f"{label.carrier} {label.service} label {label.tracking} ({label.cost})",
            sh.shipment_id,
        )

    async def _left_the_node(self) -> None:
        """The units left: the reservation becomes a movement, then the shipment is charged
        (not while the order is held)."""
        sh = self.sh
        consumed = await workflow.execute_local_activity_method(
            InventoryActivities.consume_reservations,
            ConsumeInput(
                order_id=self._book.order_id,
                shipment_id=sh.shipment_id,
                outcome=outcome_of(sh, workflow.now()),
            ),
            **DATABASE,
            summary=f"consume reserved units of {sh.shipment_id} at {sh.node}",
        )
        self._book.event(
            "consumed", f"{units(consumed.consumed_units)} left {sh.node}", sh.shipment_id
        )
        await self._holds.clear_to_start()
        await self._payments.capture(sh)
