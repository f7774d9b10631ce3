"""Undo steps, written once: give reserved units back, cancel or amend a request at its node
(or its purchase order at the supplier), void a label the DOM bought. Cancellation, breaches,
rejections, holds that time out and the saga all undo through these."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dom_workflows.common.retry import CARRIER, DATABASE, NODE

with workflow.unsafe.imports_passed_through():
    from activities.carrier.activities import CarrierActivities
    from activities.fulfillment.activities import FulfillmentActivities
    from activities.inventory.activities import InventoryActivities
    from activities.supplier.activities import SupplierActivities
    from dom_workflows.common.errors import failure_cause
    from dom_workflows.common.models import ShipmentLine
    from dom_workflows.common.text import units
    from dom_workflows.fulfillment.models import AmendFulfillment, CancelFulfillment
    from dom_workflows.insight.models import ShipmentOutcome
    from dom_workflows.inventory.models import OutboundLine, ReleaseInput, UnplannedOutbound
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.models import Shipment
    from dom_workflows.shipping.models import VoidLabel
    from dom_workflows.supplier.models import CancelPurchaseOrder


class Undo:
    def __init__(self, book: OrderBook) -> None:
        self._book = book
        self._release_seq = 0
        self._amend_seq = 0
        self.sending: dict[str, None] = {}  # shipments whose request is on its way to the node

    async def release(
        self,
        shipment_id: str | None,
        reason: str,
        line_id: str | None = None,
        qty: int | None = None,
        outcome: ShipmentOutcome | None = None,
    ) -> int:
        self._release_seq += 1
        result = await workflow.execute_local_activity_method(
            InventoryActivities.release_reservations,
            ReleaseInput(
                order_id=self._book.order_id,
                shipment_id=shipment_id,
                line_id=line_id,
                qty=qty,
                reason=reason,
                # Unique per release decision, stable across activity retries.
                idempotency_key=f"{self._book.order_id}:release:{self._release_seq}",
                outcome=outcome,
            ),
            **DATABASE,
            summary=f"release {qty or 'all'} reserved units of {shipment_id or 'the order'}",
        )
        if result.released_units:
            self._book.event(
                "released", f"{units(result.released_units)} released: {reason}", shipment_id
            )
        return result.released_units

    async def cancel_at_node(self, sh: Shipment, reason: str) -> bool:
        """Cancel the whole request (or purchase order); raises ActivityError when the node
        refuses (it has shipped, or is too far along) or cannot be reached. True when the node
        answers that it had rejected the request itself (nothing to cancel, nothing ships)."""
        await workflow.wait_condition(lambda: sh.shipment_id not in self.sending)
        rejected = False
        if sh.po_id:
            await workflow.execute_activity_method(
                SupplierActivities.cancel_purchase_order,
                CancelPurchaseOrder(
                    po_id=sh.po_id, shipment_id=sh.shipment_id, supplier=sh.node, reason=reason
                ),
                **NODE,
                summary=f"cancel purchase order {sh.po_id} at {sh.node}",
            )
            self._book.event(
                "node-cancelled", f"purchase order {sh.po_id} cancelled: {reason}", sh.shipment_id
            )
        else:
            ack = await workflow.execute_activity_method(
                FulfillmentActivities.cancel_at_node,
                CancelFulfillment(
                    shipment_id=sh.shipment_id,
                    order_id=self._book.order_id,
                    node=sh.node,
                    reason=reason,
                ),
                **NODE,
                summary=f"cancel {sh.shipment_id} at {sh.node}",
            )
            rejected = ack.status_code == 409  # the activity's ack for "it was rejected"
            if not rejected:
                self._book.event(
                    "node-cancelled", f"cancelled at {sh.node}: {reason}", sh.shipment_id
                )
        if sh.label_id:
            await self._void_label(sh, reason)
        return rejected

    async def amend_at_node(self, sh: Shipment, lines: list[ShipmentLine], reason: str) -> None:
        """Some units of a live request were cancelled: the node ships only `lines`."""
        await workflow.wait_condition(lambda: sh.shipment_id not in self.sending)
        left = sum(sl.qty for sl in lines)
        if sh.po_id:
            # Suppliers take no amendments: ops amend the PO by hand (the units are released).
            self._book.escalate(f"amend purchase order {sh.po_id} at {sh.node} to {units(left)}")
            return
        self._amend_seq += 1
        await workflow.execute_activity_method(
            FulfillmentActivities.amend_at_node,
            AmendFulfillment(
                shipment_id=sh.shipment_id,
                order_id=self._book.order_id,
                node=sh.node,
                lines=lines,
                reason=reason,
                seq=self._amend_seq,
            ),
            **NODE,
            summary=f"amend {sh.shipment_id} at {sh.node} to {units(left)}",
        )
        self._book.event(
            "node-amended", f"{sh.node} now ships {units(left)}: {reason}", sh.shipment_id
        )

    async def record_units_gone(self, sh: Shipment) -> None:
        """The node shipped a request the DOM had ended: its units left all the same."""
        await workflow.execute_local_activity_method(
            InventoryActivities.record_unplanned_outbound,
            UnplannedOutbound(
                order_id=self._book.order_id,
                shipment_id=sh.shipment_id,
                node=sh.node,
                lines=[OutboundLine(sku=sl.sku, qty=sl.qty) for sl in sh.requested_lines if sl.qty],
                reference=f"{sh.shipment_id}:left-after-{sh.status.value}",
                note=f"{sh.node} shipped {sh.shipment_id} after it was {sh.status.value}",
            ),
            **DATABASE,
            summary=f"record {sh.shipment_id} leaving {sh.node} after it was {sh.status.value}",
        )

    async def _void_label(self, sh: Shipment, reason: str) -> None:
        assert sh.label_id is not None
        try:
            await workflow.execute_activity_method(
                CarrierActivities.void_label,
                VoidLabel(label_id=sh.label_id, shipment_id=sh.shipment_id, reason=reason),
                **CARRIER,
                summary=f"void label {sh.tracking} of {sh.shipment_id}",
            )
        except ActivityError as e:
            self._book.escalate(f"label {sh.label_id} could not be voided: {failure_cause(e)}")
            return
        self._book.event("label-voided", f"label {sh.tracking} voided: {reason}", sh.shipment_id)
        sh.label_id = None
