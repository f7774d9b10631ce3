"""Partner-specific fulfilment steps: dropship suppliers get a purchase order instead of a
fulfilment request, and ship-from-store shipments get a label the DOM buys (stores have no
carrier account); cancelling undoes exactly that -- the PO is cancelled, the label voided."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dom_workflows.order.base import (
    NODE_CALL_TIMEOUT,
    NODE_GIVE_UP,
    NODE_RETRY,
    OrderBase,
    failure_cause,
)

with workflow.unsafe.imports_passed_through():
    from activities.carrier.activities import CarrierActivities
    from activities.supplier.activities import SupplierActivities
    from dom_workflows.common.models import Address, ShipmentLine
    from dom_workflows.order.models import Shipment
    from dom_workflows.shipping.models import LabelRequest, Parcel, RateRequest, VoidLabel
    from dom_workflows.supplier.models import (
        CancelPurchaseOrder,
        PurchaseOrder,
        PurchaseOrderLine,
        po_id_for,
    )

DROPSHIP_PATCH = "dropship-po-v1"
STORE_LABELS_PATCH = "store-labels-v1"


class PartnerStepsMixin(OrderBase):
    def _uses_po(self, sh: Shipment) -> bool:
        assert self._destination is not None
        return (
            sh.node_type == "dropship"
            and self._destination.partners.supplier_pos
            and workflow.patched(DROPSHIP_PATCH)
        )

    async def _send_purchase_order(self, sh: Shipment, ship_to: Address) -> str:
        ack = await workflow.execute_activity_method(
            SupplierActivities.send_purchase_order,
            PurchaseOrder(
                po_id=po_id_for(sh.shipment_id),
                shipment_id=sh.shipment_id,
                order_id=self._order.order_id,
                supplier=sh.node,
                service=sh.service,
                lines=[
                    PurchaseOrderLine(line_id=sl.line_id, sku=sl.sku, qty=sl.qty)
                    for sl in sh.lines
                    if sl.qty
                ],
                ship_to=ship_to,
            ),
            start_to_close_timeout=NODE_CALL_TIMEOUT,
            schedule_to_close_timeout=NODE_GIVE_UP,
            retry_policy=NODE_RETRY,
            summary=f"send purchase order {po_id_for(sh.shipment_id)} to {sh.node}",
        )
        sh.po_id = ack.po_id
        return f"purchase order {ack.po_id}"

    async def _buy_label(self, sh: Shipment) -> None:
        """Ship-from-store: rate-shop and buy the label the store prints."""
        assert self._destination is not None
        if (
            sh.node_type != "store"
            or sh.label_id
            or not self._destination.partners.carrier_labels
            or not workflow.patched(STORE_LABELS_PATCH)
            or sh.ship_from is None
            or self._order.ship_to is None
        ):
            return
        weight = max(Decimal(1), (sh.billable_lb or Decimal(1)).to_integral_value(ROUND_CEILING))
        try:
            quotes = await workflow.execute_activity_method(
                CarrierActivities.rate_shop,
                RateRequest(
                    shipment_id=sh.shipment_id,
                    order_id=self._order.order_id,
                    ship_from=sh.ship_from,
                    ship_to=self._order.ship_to,
                    parcel=Parcel(weight_lb=weight),
                    promise_days=self._order.promise_days,
                ),
                start_to_close_timeout=NODE_CALL_TIMEOUT,
                retry_policy=NODE_RETRY,
                summary=f"rate-shop {sh.shipment_id} ({weight} lb from {sh.node})",
            )
            if quotes.best is None:
                self._escalate(f"no carrier quoted {sh.shipment_id}; the store must arrange it")
                return
            label = await workflow.execute_activity_method(
                CarrierActivities.purchase_label,
                LabelRequest(
                    shipment_id=sh.shipment_id,
                    order_id=self._order.order_id,
                    carrier=quotes.best.carrier,
                    service=quotes.best.service,
                    ship_from=sh.ship_from,
                    ship_to=self._order.ship_to,
                    parcel=Parcel(weight_lb=weight),
                    rate_id=quotes.best.rate_id,
                ),
                start_to_close_timeout=NODE_CALL_TIMEOUT,
                retry_policy=NODE_RETRY,
                summary=f"buy a {quotes.best.carrier} {quotes.best.service} label for {sh.shipment_id}",
            )
        except ActivityError as e:
            self._escalate(f"label for {sh.shipment_id} could not be bought: {failure_cause(e)}")
            return
        sh.label_id, sh.carrier, sh.tracking = label.label_id, label.carrier, label.tracking
        self._event(
            "label",
            f"{label.carrier} {label.service} label {label.tracking} ({label.cost})",
            sh.shipment_id,
        )

    async def _cancel_at_node(
        self, sh: Shipment, reason: str, lines: list[ShipmentLine] | None = None
    ) -> None:
        if sh.po_id:
            await workflow.execute_activity_method(
                SupplierActivities.cancel_purchase_order,
                CancelPurchaseOrder(
                    po_id=sh.po_id, shipment_id=sh.shipment_id, supplier=sh.node, reason=reason
                ),
                start_to_close_timeout=NODE_CALL_TIMEOUT,
                schedule_to_close_timeout=NODE_GIVE_UP,
                retry_policy=NODE_RETRY,
                summary=f"cancel purchase order {sh.po_id} at {sh.node}",
            )
            self._event(
                "node-cancelled", f"purchase order {sh.po_id} cancelled: {reason}", sh.shipment_id
            )
        else:
            await super()._cancel_at_node(sh, reason, lines)
        if sh.label_id and (sh.units == 0 or not sh.status.is_open):
            await self._void_label(sh, reason)

    async def _void_label(self, sh: Shipment, reason: str) -> None:
        assert sh.label_id is not None
        try:
            await workflow.execute_activity_method(
                CarrierActivities.void_label,
                VoidLabel(label_id=sh.label_id, shipment_id=sh.shipment_id, reason=reason),
                start_to_close_timeout=NODE_CALL_TIMEOUT,
                retry_policy=NODE_RETRY,
                summary=f"void label {sh.tracking} of {sh.shipment_id}",
            )
        except ActivityError as e:
            self._escalate(f"label {sh.label_id} could not be voided: {failure_cause(e)}")
            return
        self._event("label-voided", f"label {sh.tracking} voided: {reason}", sh.shipment_id)
        sh.label_id = None
