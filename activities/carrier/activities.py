"""Carrier adapter: rate shopping, label purchase (outbound and return) and label voids over
the carrier HTTP API described in docs/partners.md ("Carrier").

A real carrier (UPS, FedEx, a label aggregator) is a new adapter exposing the same activities,
not a change to any workflow.
"""

from __future__ import annotations

import hashlib
import json

import httpx
from temporalio import activity

from activities.common.partner_http import PartnerHttp, refused
from dom_workflows.shipping.models import (
    Label,
    LabelRequest,
    RateQuote,
    RateRequest,
    RateShopResult,
    VoidLabel,
    VoidLabelResult,
)

CARRIER_UNAVAILABLE = "CarrierUnavailable"
LABEL_REFUSED = "LabelRefused"
RATES_REFUSED = "RatesRefused"
VOID_REFUSED = "VoidRefused"


def pick_best(quotes: list[RateQuote], promise_days: int | None) -> RateQuote | None:
    """The cheapest quote that keeps the promise; if none can, the fastest (then cheapest)."""
    if not quotes:
        return None
    on_time = [q for q in quotes if promise_days is None or q.transit_days <= promise_days]
    if on_time:
        return min(on_time, key=lambda q: (q.amount.amount, q.transit_days, q.rate_id))
    return min(quotes, key=lambda q: (q.transit_days, q.amount.amount, q.rate_id))


class CarrierActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        attempts: int = 3,
        timeout: float | None = None,
    ) -> None:
        self.api = PartnerHttp(
            http, base_url, unavailable_type=CARRIER_UNAVAILABLE, attempts=attempts, timeout=timeout
        )

    @activity.defn
    async def rate_shop(self, req: RateRequest) -> RateShopResult:
        # Quotes have no side effect, but the key still lets the carrier trace and dedupe them.
        # It includes a digest of the request: asking again with another service or parcel is
        # a different question, not a conflicting reuse of the key.
        body = req.model_dump(mode="json")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
        response = await self.api.post("rates", f"rates:{req.shipment_id}:{digest}", body)
        if response.status_code != 200:
            raise refused(RATES_REFUSED, f"carrier refused rates for {req.shipment_id}", response)
        quotes = [RateQuote.model_validate(q) for q in response.json()["quotes"]]
        return RateShopResult(
            shipment_id=req.shipment_id, quotes=quotes, best=pick_best(quotes, req.promise_days)
        )

    @activity.defn
    async def purchase_label(self, req: LabelRequest) -> Label:
        body = req.model_dump(mode="json", by_alias=True)
        response = await self.api.post("labels", req.idempotency_key(), body)
        if response.status_code not in (200, 201):
            raise refused(LABEL_REFUSED, f"carrier refused a label for {req.shipment_id}", response)
        return Label.model_validate(response.json())

    @activity.defn
    async def void_label(self, req: VoidLabel) -> VoidLabelResult:
        response = await self.api.post(
            f"labels/{req.label_id}/void", f"void-label:{req.label_id}", req.model_dump(mode="json")
        )
        if response.status_code == 404:  # nothing to void: the goal is already met
            return VoidLabelResult(label_id=req.label_id, status="not_found")
        if response.status_code != 200:
            # 409: the parcel is already moving; the workflow escalates instead of retrying.
            raise refused(VOID_REFUSED, f"carrier refused to void {req.label_id}", response)
        return VoidLabelResult.model_validate(response.json())
