"""How every mutating partner endpoint runs: idempotency key, fault injection, request log.

An effect is a plain synchronous function over the parsed JSON body. Because it never awaits,
checking the key, applying the effect and storing the answer happen without interleaving, so two
concurrent retries of one key cannot both apply it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from workers.simulator.faults import Fault, Faults
from workers.simulator.log import RequestLog, StoredResponse, fingerprint

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    # The business subject of a new side effect (e.g. "capture:<shipment>"); None = no effect.
    subject: str | None = None


class Invalid(Exception):
    """The request body is malformed: 422 with the reason, and nothing happens."""


Effect = Callable[[dict[str, Any]], Outcome]


class Idempotent:
    def __init__(self, log: RequestLog, faults: Faults, slow_seconds: Callable[[], float]) -> None:
        self.log = log
        self.faults = faults
        self.slow_seconds = slow_seconds

    async def handle(self, request: Request, scope: str, effect: Effect) -> JSONResponse:
        method, path = request.method, request.url.path
        body = await request.body()
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            self.log.entry(method, path, None, 400)
            return _json(400, {"error": f"the {IDEMPOTENCY_HEADER} header is required"})
        fault = self.faults.draw()
        # Keys are scoped per partner API, like a provider scopes them per account.
        scoped = f"{scope} {key}"
        fp = fingerprint(method, path, body)
        stored = self.log.responses.get(scoped)
        if stored is not None:
            if stored.fingerprint != fp:
                self.log.entry(method, path, key, 422, replayed=True)
                return _json(
                    422, {"error": f"{IDEMPOTENCY_HEADER} {key!r} was used for another request"}
                )
            if fault in (Fault.FAIL_BEFORE, Fault.FAIL_AFTER):
                self.log.entry(method, path, key, 500, replayed=True, fault=fault.value)
                return _json(500, {"error": "injected failure"})
            self.log.entry(method, path, key, stored.status, replayed=True, fault=fault.value)
            if fault == Fault.SLOW:
                await asyncio.sleep(self.slow_seconds())
            return _json(stored.status, stored.body, replayed=True)
        if fault == Fault.FAIL_BEFORE:
            self.log.entry(method, path, key, 500, fault=fault.value)
            return _json(500, {"error": "injected failure"})
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise Invalid("the body must be a JSON object")
            outcome = effect(payload)
        except (ValueError, ValidationError, Invalid) as e:  # JSONDecodeError is a ValueError
            self.log.entry(method, path, key, 422)
            return _json(422, {"error": str(e)[:500]})
        # Business refusals (4xx) are stored too: a retried declined payment stays declined.
        self.log.responses[scoped] = StoredResponse(fp, outcome.status, outcome.body)
        if outcome.subject:
            self.log.effect(scoped, outcome.subject)
        self.log.entry(
            method, path, key, outcome.status, new_effect=bool(outcome.subject), fault=fault.value
        )
        if fault == Fault.FAIL_AFTER:
            return _json(500, {"error": "injected failure after the effect"})
        if fault == Fault.SLOW:
            await asyncio.sleep(self.slow_seconds())
        return _json(outcome.status, outcome.body)


def _json(status: int, body: Any, *, replayed: bool = False) -> JSONResponse:
    headers = {REPLAY_HEADER: "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)
