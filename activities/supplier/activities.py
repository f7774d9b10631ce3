"""Dropship supplier adapter: sends purchase orders (and their cancellations) to a supplier.

The supplier ships direct to the customer. Its confirmation or rejection and its ship notices
arrive later as signed partner events for the PO's `shipment_id`, exactly like a node's, so
the order workflow follows a dropship shipment with the code it uses for every shipment.
Wire format: docs/partners.md ("Dropship suppliers").
"""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.common.partner_http import PartnerHttp, refused
from dom_workflows.network import Network
from dom_workflows.supplier.models import CancelPurchaseOrder, PurchaseOrder, PurchaseOrderAck

SUPPLIER_UNAVAILABLE = "SupplierUnavailable"
PO_REFUSED = "PurchaseOrderRefused"


class SupplierActivities:
    """`suppliers` is either one base URL (`{base}/{supplier}/purchase-orders`, the simulator's
    layout) or the network, whose dropship nodes name their own `supplier_endpoint`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        suppliers: Network | str,
        *,
        fallback_base_url: str | None = None,
        attempts: int = 3,
        timeout: float | None = None,
    ) -> None:
        self.http = http
        self.suppliers = suppliers
        self.fallback = fallback_base_url
        self.attempts = attempts
        self.timeout = timeout

    def _api(self, supplier: str) -> PartnerHttp:
        return PartnerHttp(
            self.http,
            self.endpoint(supplier),
            unavailable_type=SUPPLIER_UNAVAILABLE,
            attempts=self.attempts,
            timeout=self.timeout,
        )

    def endpoint(self, supplier: str) -> str:
        if isinstance(self.suppliers, str):
            return f"{self.suppliers.rstrip('/')}/{supplier}"
        node = self.suppliers.node(supplier)
        own = (node.model_extra or {}).get("supplier_endpoint")
        if own:
            return str(own)
        if self.fallback:
            return f"{self.fallback.rstrip('/')}/{supplier}"
        raise ValueError(f"supplier {supplier!r} has no supplier_endpoint and there is no default")

    @activity.defn
    async def send_purchase_order(self, po: PurchaseOrder) -> PurchaseOrderAck:
        response = await self._api(po.supplier).post(
            "purchase-orders", po.idempotency_key(), po.model_dump(mode="json")
        )
        # 409: the supplier already has this PO (e.g. sent under an older key): it is taken.
        if response.status_code in (200, 201, 202, 409):
            return PurchaseOrderAck(
                po_id=po.po_id,
                supplier=po.supplier,
                status="received",
                status_code=response.status_code,
            )
        raise refused(PO_REFUSED, f"{po.supplier} refused purchase order {po.po_id}", response)

    @activity.defn
    async def cancel_purchase_order(self, req: CancelPurchaseOrder) -> PurchaseOrderAck:
        response = await self._api(req.supplier).post(
            f"purchase-orders/{req.po_id}/cancel",
            req.idempotency_key(),
            req.model_dump(mode="json"),
        )
        if response.status_code in (200, 202, 204, 404):  # 404: nothing left to cancel
            return PurchaseOrderAck(
                po_id=req.po_id,
                supplier=req.supplier,
                status="cancelled",
                status_code=response.status_code,
                detail=response.text[:300],
            )
        # 409: it has shipped already; the workflow treats that as "too late to cancel".
        raise refused(PO_REFUSED, f"{req.supplier} refused to cancel {req.po_id}", response)
