"""Dropship suppliers: purchase orders in; confirmation, ship notice and delivery go back as
partner events for the PO's shipment, through the same lifecycle as a node's."""

from __future__ import annotations

from typing import Any

from dom_workflows.supplier.models import PurchaseOrder
from workers.simulator.idempotency import Outcome
from workers.simulator.nodes import Fulfilments


class Suppliers:
    def __init__(self, fulfilments: Fulfilments) -> None:
        self.fulfilments = fulfilments
        self.po_shipments: dict[str, str] = {}  # po_id -> shipment_id

    def purchase_order(self, supplier: str, payload: dict[str, Any]) -> Outcome:
        po = PurchaseOrder.model_validate(payload)
        if po.supplier != supplier:
            return Outcome(422, {"error": f"PO is for {po.supplier}, not {supplier}"})
        lines = [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in po.lines]
        outcome = self.fulfilments.take(
            supplier, po.shipment_id, po.order_id, po.service, "supplier", lines=lines
        )
        if outcome.status == 202:
            self.po_shipments[po.po_id] = po.shipment_id
        return Outcome(outcome.status, {"po_id": po.po_id, **outcome.body}, outcome.subject)

    def cancel(self, supplier: str, po_id: str) -> Outcome:
        shipment_id = self.po_shipments.get(po_id)
        if shipment_id is None:
            return Outcome(404, {"error": f"no purchase order {po_id} at {supplier}"})
        outcome = self.fulfilments.cancel(supplier, shipment_id)
        return Outcome(outcome.status, {"po_id": po_id, **outcome.body}, outcome.subject)

    def reset(self) -> None:
        self.po_shipments.clear()
