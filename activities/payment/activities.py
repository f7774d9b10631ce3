"""Payment provider adapter: authorize at order start, capture per shipment when it ships,
void the uncaptured remainder or refund captures on cancellation and returns.

Money is Decimal + currency on the wire (strings). Every call carries an Idempotency-Key from
business ids (`auth:<order>`, `capture:<shipment>`, `void:<authorization>`,
`refund:<order>:<seq>`), so a retried capture never charges twice. Wire format:
docs/partners.md ("Payment provider").
"""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.common.partner_http import PartnerHttp, refused
from dom_workflows.payment.models import (
    Authorization,
    Authorize,
    Capture,
    CaptureResult,
    Refund,
    RefundResult,
    VoidAuthorization,
    VoidResult,
)

PAYMENT_UNAVAILABLE = "PaymentUnavailable"
PAYMENT_DECLINED = "PaymentDeclined"
CAPTURE_REFUSED = "CaptureRefused"
VOID_REFUSED = "VoidRefused"
REFUND_REFUSED = "RefundRefused"


class PaymentActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        attempts: int = 3,
        timeout: float | None = None,
    ) -> None:
        self.api = PartnerHttp(
            http, base_url, unavailable_type=PAYMENT_UNAVAILABLE, attempts=attempts, timeout=timeout
        )

    @activity.defn
    async def authorize_payment(self, req: Authorize) -> Authorization:
        response = await self.api.post(
            "authorizations", req.idempotency_key(), req.model_dump(mode="json")
        )
        if response.status_code == 402:
            raise refused(PAYMENT_DECLINED, f"payment for {req.order_id} declined", response)
        if response.status_code not in (200, 201):
            raise refused(PAYMENT_DECLINED, f"authorization of {req.order_id} refused", response)
        return Authorization.model_validate(response.json())

    @activity.defn
    async def capture_payment(self, req: Capture) -> CaptureResult:
        response = await self.api.post(
            f"authorizations/{req.authorization_id}/captures",
            req.idempotency_key(),
            req.model_dump(mode="json"),
        )
        if response.status_code not in (200, 201):
            # 409/422: more than the authorization allows, or it was voided. Retrying cannot
            # help; the workflow escalates to a human.
            raise refused(CAPTURE_REFUSED, f"capture for {req.shipment_id} refused", response)
        return CaptureResult.model_validate(response.json())

    @activity.defn
    async def void_payment(self, req: VoidAuthorization) -> VoidResult:
        response = await self.api.post(
            f"authorizations/{req.authorization_id}/void",
            req.idempotency_key(),
            req.model_dump(mode="json"),
        )
        if response.status_code not in (200, 201):
            raise refused(VOID_REFUSED, f"void of {req.authorization_id} refused", response)
        return VoidResult.model_validate(response.json())

    @activity.defn
    async def refund_payment(self, req: Refund) -> RefundResult:
        response = await self.api.post(
            f"captures/{req.capture_id}/refunds", req.idempotency_key(), req.model_dump(mode="json")
        )
        if response.status_code not in (200, 201):
            raise refused(REFUND_REFUSED, f"refund {req.order_id}#{req.seq} refused", response)
        return RefundResult.model_validate(response.json())
