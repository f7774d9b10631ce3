"""Posting signed partner events to the DOM API: `POST {api}/v1/partners/{partner}/events`.

Event ids are stable (`<shipment>:<type>`), so when a post's answer is lost and we send it
again the API recognises the duplicate. Each attempt is signed afresh: the timestamp is inside
the MAC and stale signatures are refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from dom_workflows.partners.models import PartnerEvent
from dom_workflows.partners.signing import signed_headers
from workers.simulator.config import SimConfig

log = logging.getLogger("dom.simulator.events")


@dataclass
class Posted:
    partner: str
    event_id: str
    type: str
    shipment_id: str
    status: int | None  # the API's last answer; None = never reached
    attempts: int
    delivered: bool


class EventPoster:
    def __init__(
        self,
        config: SimConfig,
        secrets: dict[str, str],
        http: httpx.AsyncClient | None = None,
        *,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self._http = http
        self._own_http = http is None
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.posted: list[Posted] = []

    @property
    def http(self) -> httpx.AsyncClient:
        # Created on first use, inside the running loop that will use it.
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    def knows(self, partner: str) -> bool:
        return partner in self.secrets

    async def post(self, partner: str, event: PartnerEvent) -> Posted:
        """Deliver one event, retrying with capped exponential backoff while the API is
        unreachable, 5xx, 408 or 429. Any other 4xx is final: retrying cannot fix it."""
        body = event.model_dump_json(exclude_none=True).encode()
        record = Posted(partner, event.event_id, event.type, event.shipment_id, None, 0, False)
        self.posted.append(record)
        deadline = time.monotonic() + self.config.event_give_up_after
        delay = self.backoff
        while True:
            record.attempts += 1
            url = f"{self.config.api_url.rstrip('/')}/v1/partners/{partner}/events"
            headers = {"Content-Type": "application/json"}
            headers |= signed_headers(self.secrets[partner], body, time.time())
            try:
                response = await self.http.post(url, content=body, headers=headers)
                record.status = response.status_code
                if response.is_success:
                    record.delivered = True
                    return record
                if response.status_code < 500 and response.status_code not in (408, 429):
                    log.warning(
                        "%s refused %s: %s %s",
                        url,
                        event.event_id,
                        response.status_code,
                        response.text[:200],
                    )
                    return record
            except httpx.HTTPError as e:
                log.info("posting %s failed (%r); will retry", event.event_id, e)
            if time.monotonic() + delay > deadline:
                log.warning("giving up on %s after %d attempts", event.event_id, record.attempts)
                return record
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(p) for p in self.posted]
