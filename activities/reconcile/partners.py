"""Asking partners what they hold, and the two voids reconciliation may make.

Listings (docs/reconciliation.md): `GET {node endpoint}/fulfillment-requests`, `GET {payments}/
authorizations|captures|refunds` and `GET {carrier}/labels`, each `?since=&limit=&cursor=`,
answered `{"items": [...], "next_cursor": ...}`. Reads go through partner_http.send (cancel-safe
in the pool) with a few quick retries on 5xx, 429 and network errors; a listing a partner does
not serve (404, 405, 501) is reported as not compared instead of failing the whole run.
Voids go through PartnerHttp.post with an Idempotency-Key derived from the finding.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.common.partner_http import PartnerHttp, send

LISTING_UNAVAILABLE = "PartnerListingUnavailable"
PAGE_LIMIT = 200
MAX_PAGES = 500  # 100k records: a partner that keeps handing out cursors cannot loop us forever
ATTEMPTS = 3


class ListingNotServed(Exception):
    """The partner does not serve this listing (404/405/501): nothing to compare against."""


async def _get(http: httpx.AsyncClient, url: str, params: dict[str, str]) -> httpx.Response:
    problem = ""
    for attempt in range(ATTEMPTS):
        if attempt:
            await asyncio.sleep(random.uniform(0, 0.25 * 2 ** (attempt - 1)))
        try:
            response = await send(http, "GET", url, params=params)
        except httpx.HTTPError as e:
            problem = f"{url} unreachable: {e!r}"
            continue
        if response.status_code >= 500 and response.status_code != 501:
            problem = f"{url} answered {response.status_code}: {response.text[:200]}"
            continue
        if response.status_code in (408, 429):
            problem = f"{url} answered {response.status_code}"
            continue
        return response
    raise ApplicationError(f"{problem} (after {ATTEMPTS} attempts)", type=LISTING_UNAVAILABLE)


async def list_all(
    http: httpx.AsyncClient, url: str, since: datetime, **filters: str
) -> list[dict[str, Any]]:
    """Every record changed since `since`, following the cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params = {"since": since.isoformat(), "limit": str(PAGE_LIMIT), **filters}
        if cursor:
            params["cursor"] = cursor
        response = await _get(http, url, params)
        if response.status_code in (404, 405, 501):
            raise ListingNotServed(f"{url}: {response.status_code}")
        if response.status_code != 200:
            raise ApplicationError(
                f"{url} refused the listing: {response.status_code} {response.text[:300]}",
                type=LISTING_UNAVAILABLE,
                non_retryable=True,
            )
        body = response.json()
        items += body.get("items", [])
        cursor = body.get("next_cursor")
        if not cursor:
            return items
    raise ApplicationError(f"{url}: more than {MAX_PAGES} pages", type=LISTING_UNAVAILABLE)


async def fulfilment_request(
    http: httpx.AsyncClient, node_endpoint: str, shipment_id: str
) -> dict[str, Any] | None:
    """One request as the node holds it; None if the node does not have it."""
    url = f"{node_endpoint.rstrip('/')}/fulfillment-requests/{shipment_id}"
    response = await _get(http, url, {})
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise ApplicationError(
            f"{url}: {response.status_code} {response.text[:300]}", type=LISTING_UNAVAILABLE
        )
    record: dict[str, Any] = response.json()
    return record


class PartnerVoids:
    """The two partner effects reconciliation makes, each under the finding's own key."""

    def __init__(
        self, http: httpx.AsyncClient, payment_url: str | None, carrier_url: str | None
    ) -> None:
        self.payments = (
            PartnerHttp(http, payment_url, unavailable_type="PaymentUnavailable")
            if payment_url
            else None
        )
        self.carrier = (
            PartnerHttp(http, carrier_url, unavailable_type="CarrierUnavailable")
            if carrier_url
            else None
        )

    async def void_capture(self, capture_id: str, key: str, reason: str) -> tuple[bool, str]:
        """(voided, what the provider said)."""
        if self.payments is None:
            return False, "no payment provider configured"
        response = await self.payments.post(
            f"captures/{capture_id}/void", key, {"capture_id": capture_id, "reason": reason}
        )
        return response.status_code == 200, f"{response.status_code} {response.text[:200]}"

    async def void_label(self, label_id: str, key: str, reason: str) -> tuple[bool, str]:
        if self.carrier is None:
            return False, "no carrier configured"
        response = await self.carrier.post(
            f"labels/{label_id}/void", key, {"label_id": label_id, "reason": reason}
        )
        return response.status_code == 200, f"{response.status_code} {response.text[:200]}"
