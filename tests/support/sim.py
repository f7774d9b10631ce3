"""The partner simulator in tests: live over TCP (LiveSim, what tests read from it), and
in-process over ASGI with a tiny signed-event receiver playing the DOM API (SimHarness)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dom_workflows.partners.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify
from workers.simulator.app import Simulator
from workers.simulator.config import load_secrets

SECRETS = load_secrets()


@dataclass
class LiveSim:
    sim: Simulator
    url: str
    http: httpx.AsyncClient

    def configure(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.sim.config, name, value)

    def effects(self) -> dict[str, Any]:
        return self.sim.log.effects()

    def keys_seen(self) -> dict[str, int]:
        """How many requests carried each idempotency key (retries included)."""
        seen: dict[str, int] = {}
        for e in self.sim.log.entries:
            if e.idempotency_key:
                seen[e.idempotency_key] = seen.get(e.idempotency_key, 0) + 1
        return seen


@dataclass
class Receiver:
    """Plays `POST /v1/partners/{partner}/events`: verifies signatures, dedupes event ids."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many posts first
    attempts: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/partners/{partner}/events")
        async def receive(partner: str, request: Request) -> JSONResponse:
            self.attempts += 1
            body = await request.body()
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": "down"}, status_code=503)
            try:
                verify(
                    SECRETS[partner],
                    request.headers.get(TIMESTAMP_HEADER),
                    request.headers.get(SIGNATURE_HEADER),
                    body,
                    time.time(),
                )
            except (BadSignature, KeyError) as e:
                return JSONResponse({"error": str(e)}, status_code=401)
            event = json.loads(body)
            if any(e["event_id"] == event["event_id"] for _, e in self.events):
                return JSONResponse({"duplicate": True})
            self.events.append((partner, event))
            self.changed.set()
            return JSONResponse({"accepted": True}, status_code=202)

        return app

    def types(self, shipment_id: str) -> list[str]:
        return [e["type"] for _, e in self.events if e["shipment_id"] == shipment_id]

    async def wait_for(self, check: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not check():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class SimHarness:
    sim: Simulator
    http: httpx.AsyncClient
    receiver: Receiver

    async def post(self, path: str, body: dict[str, Any], key: str | None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return await self.http.post(path, json=body, headers=headers)

    async def effects(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self.http.get("/_effects")).json()
        return data


FAST = {"accept_delay": 0.01, "ship_delay": 0.01, "deliver_delay": 0.01, "jitter": 0.0}
SimFactory = Callable[..., Awaitable[SimHarness]]
