"""One HTTP call to a partner API, the way every edge adapter makes it.

* The same Idempotency-Key on every attempt, so the partner applies the call at most once even
  when an answer is lost (a 5xx after the effect, or a timeout).
* A few quick in-activity retries with exponential backoff and jitter on 5xx, 429 and network
  errors absorb blips cheaply; after that a retryable ApplicationError hands the problem to
  Temporal's activity retry policy (minutes of backoff, durable across worker restarts).
* Everything else (2xx, 4xx) is returned for the adapter to interpret: only it knows whether
  a 409 means "already done" or "refused".

Shared by the node, supplier, carrier and payment adapters.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _retryable_status(code: int) -> bool:
    return code >= 500 or code in (408, 429)


class PartnerHttp:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        unavailable_type: str,
        attempts: int = 3,
        backoff: float = 0.25,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.unavailable_type = unavailable_type
        self.attempts = max(1, attempts)
        self.backoff = backoff
        # None = the shared client's own timeout.
        self.timeout = timeout

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def post(self, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
        url = self.url(path)
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                # Exponential backoff with full jitter, so retrying workers do not stampede.
                await asyncio.sleep(random.uniform(0, self.backoff * 2 ** (attempt - 1)))
            try:
                kwargs: dict[str, Any] = {"json": body, "headers": {IDEMPOTENCY_HEADER: key}}
                if self.timeout is not None:
                    kwargs["timeout"] = self.timeout
                response = await self.http.post(url, **kwargs)
            except httpx.HTTPError as e:
                problem = f"{url} unreachable: {e!r}"
                continue
            if _retryable_status(response.status_code):
                problem = f"{url} answered {response.status_code}: {response.text[:200]}"
                continue
            return response
        raise ApplicationError(
            f"{problem} (after {self.attempts} attempts, key {key})", type=self.unavailable_type
        )


def refused(kind: str, what: str, response: httpx.Response) -> ApplicationError:
    """A permanent refusal: retrying the same request cannot succeed."""
    return ApplicationError(
        f"{what}: {response.status_code} {response.text[:300]}", type=kind, non_retryable=True
    )
