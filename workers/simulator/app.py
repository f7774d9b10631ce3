"""The simulator's HTTP surface: partner APIs under /nodes, /suppliers, /carrier, /payments,
and test controls under /_ (log, effects, events, config, reset)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from workers.simulator.carrier import Carrier
from workers.simulator.config import SimConfig, load_rate_card, load_secrets
from workers.simulator.events import EventPoster
from workers.simulator.faults import Faults
from workers.simulator.idempotency import Idempotent
from workers.simulator.listings import STATUSES, iso, listing
from workers.simulator.log import RequestLog
from workers.simulator.nodes import Fulfilments
from workers.simulator.payments import PaymentProvider
from workers.simulator.suppliers import Suppliers


class Simulator:
    """All partner state, in memory. One instance per process (or per test)."""

    def __init__(
        self,
        config: SimConfig,
        *,
        secrets: dict[str, str] | None = None,
        rate_card: dict[str, Any] | None = None,
        events_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.log = RequestLog()
        self.faults = Faults(config, self.rng)
        self.idempotent = Idempotent(self.log, self.faults, lambda: self.config.slow_seconds)
        self.poster = EventPoster(
            config, secrets if secrets is not None else load_secrets(), events_http
        )
        self.fulfilments = Fulfilments(config, self.poster, self.rng)
        self.suppliers = Suppliers(self.fulfilments)
        self.carrier = Carrier(rate_card or load_rate_card(), self.rng)
        self.payments = PaymentProvider(self.rng)

    async def reset(self) -> None:
        await self.fulfilments.reset()
        self.suppliers.reset()
        self.carrier.reset()
        self.payments.reset()
        self.log.reset()
        await self.poster.reset()

    async def aclose(self) -> None:
        await self.fulfilments.aclose()
        await self.poster.aclose()


def create_app(sim: Simulator) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await sim.aclose()

    app = FastAPI(title="dom-workflows partner simulator", lifespan=lifespan)
    run = sim.idempotent.handle

    # -- fulfilment nodes ---------------------------------------------------------------------
    @app.post("/nodes/{node}/fulfillment-requests")
    async def fulfilment_request(node: str, request: Request) -> JSONResponse:
        return await run(request, f"nodes/{node}", lambda b: sim.fulfilments.request(node, b))

    @app.post("/nodes/{node}/fulfillment-requests/{shipment_id}/amend")
    async def amend_fulfilment(node: str, shipment_id: str, request: Request) -> JSONResponse:
        return await run(
            request, f"nodes/{node}", lambda b: sim.fulfilments.amend(node, shipment_id, b)
        )

    @app.post("/nodes/{node}/fulfillment-requests/{shipment_id}/cancel")
    async def cancel_fulfilment(node: str, shipment_id: str, request: Request) -> JSONResponse:
        return await run(
            request, f"nodes/{node}", lambda _: sim.fulfilments.cancel(node, shipment_id)
        )

    @app.get("/nodes/{node}/fulfillment-requests")
    async def list_fulfilments(node: str, request: Request) -> JSONResponse:
        """Every request this node holds (reconciliation); `status` filters, comma-separated."""
        query = dict(request.query_params)
        wanted = {s for s in query.get("status", "").split(",") if s}
        if wanted - set(STATUSES):
            bad = sorted(wanted - set(STATUSES))
            return JSONResponse(
                {"error": f"status {bad}: choose from {', '.join(STATUSES)}"}, status_code=422
            )
        return listing(
            sim.fulfilments.jobs.values(),
            query,
            changed_at=lambda j: j.updated_at,
            view=lambda j: j.record(),
            keep=lambda j: j.partner == node and (not wanted or j.status in wanted),
        )

    @app.get("/nodes/{node}/fulfillment-requests/{shipment_id}")
    async def fulfilment_status(node: str, shipment_id: str) -> JSONResponse:
        job = sim.fulfilments.jobs.get(shipment_id)
        if job is None or job.partner != node:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(job.view())

    # -- dropship suppliers -------------------------------------------------------------------
    @app.post("/suppliers/{supplier}/purchase-orders")
    async def purchase_order(supplier: str, request: Request) -> JSONResponse:
        return await run(
            request, f"suppliers/{supplier}", lambda b: sim.suppliers.purchase_order(supplier, b)
        )

    @app.post("/suppliers/{supplier}/purchase-orders/{po_id}/cancel")
    async def cancel_purchase_order(supplier: str, po_id: str, request: Request) -> JSONResponse:
        return await run(
            request, f"suppliers/{supplier}", lambda _: sim.suppliers.cancel(supplier, po_id)
        )

    # -- carrier ------------------------------------------------------------------------------
    @app.post("/carrier/rates")
    async def rates(request: Request) -> JSONResponse:
        return await run(request, "carrier", sim.carrier.rates)

    @app.post("/carrier/labels")
    async def labels(request: Request) -> JSONResponse:
        return await run(request, "carrier", sim.carrier.buy_label)

    @app.get("/carrier/labels")
    async def list_labels(request: Request) -> JSONResponse:
        return listing(
            sim.carrier.labels.values(),
            dict(request.query_params),
            changed_at=lambda label: iso(label["updated_at"]),
            view=dict,
        )

    @app.post("/carrier/labels/{label_id}/void")
    async def void_label(label_id: str, request: Request) -> JSONResponse:
        return await run(request, "carrier", lambda _: sim.carrier.void(label_id))

    # -- payment provider ---------------------------------------------------------------------
    @app.post("/payments/authorizations")
    async def authorize(request: Request) -> JSONResponse:
        return await run(request, "payments", sim.payments.authorize)

    @app.post("/payments/authorizations/{auth_id}/captures")
    async def capture(auth_id: str, request: Request) -> JSONResponse:
        return await run(request, "payments", lambda b: sim.payments.capture(auth_id, b))

    @app.post("/payments/authorizations/{auth_id}/void")
    async def void(auth_id: str, request: Request) -> JSONResponse:
        return await run(request, "payments", lambda b: sim.payments.void(auth_id, b))

    @app.post("/payments/captures/{capture_id}/refunds")
    async def refund(capture_id: str, request: Request) -> JSONResponse:
        return await run(request, "payments", lambda b: sim.payments.refund(capture_id, b))

    @app.post("/payments/captures/{capture_id}/void")
    async def void_capture(capture_id: str, request: Request) -> JSONResponse:
        return await run(request, "payments", lambda b: sim.payments.void_capture(capture_id, b))

    @app.get("/payments/authorizations")
    async def list_authorizations(request: Request) -> JSONResponse:
        return listing(
            sim.payments.auths.values(),
            dict(request.query_params),
            changed_at=lambda a: a.updated_at,
            view=lambda a: a.record(),
        )

    @app.get("/payments/captures")
    async def list_captures(request: Request) -> JSONResponse:
        return listing(
            sim.payments.captures.values(),
            dict(request.query_params),
            changed_at=lambda c: c.updated_at,
            view=lambda c: c.record(),
        )

    @app.get("/payments/refunds")
    async def list_refunds(request: Request) -> JSONResponse:
        return listing(
            sim.payments.refunds.values(),
            dict(request.query_params),
            changed_at=lambda r: r.created_at,
            view=lambda r: r.record(),
        )

    @app.get("/payments/authorizations/{auth_id}")
    async def authorization(auth_id: str) -> JSONResponse:
        auth = sim.payments.auths.get(auth_id)
        if auth is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(auth.view())

    # -- test and demo controls (never fault-injected) ----------------------------------------
    @app.get("/_health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_log")
    async def request_log() -> list[dict[str, Any]]:
        return sim.log.as_json()

    @app.get("/_effects")
    async def effects() -> dict[str, Any]:
        return sim.log.effects()

    @app.get("/_events")
    async def events() -> list[dict[str, Any]]:
        return sim.poster.as_json()

    @app.get("/_config")
    async def get_config() -> dict[str, Any]:
        return sim.config.model_dump()

    @app.post("/_config")
    async def set_config(changes: dict[str, Any]) -> JSONResponse:
        unknown = set(changes) - set(SimConfig.model_fields)
        if unknown:
            return JSONResponse({"error": f"unknown settings {sorted(unknown)}"}, status_code=422)
        try:
            # Validate everything first, then apply: a bad value changes nothing.
            updated = sim.config.model_validate(sim.config.model_dump() | changes)
        except ValueError as e:
            return JSONResponse({"error": str(e)[:500]}, status_code=422)
        for name in changes:
            setattr(sim.config, name, getattr(updated, name))
        return JSONResponse(sim.config.model_dump())

    @app.post("/_reset")
    async def reset() -> dict[str, str]:
        await sim.reset()
        return {"status": "reset"}

    return app


async def serve(sim: Simulator, port: int, stop: asyncio.Event, host: str = "127.0.0.1") -> None:
    """Run the simulator in this process until `stop` is set (tests and embedding)."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(sim), host=host, port=port, log_level="warning", lifespan="on")
    )
    # Signals belong to whoever embeds us (the test runner, `dom dev`): uvicorn would otherwise
    # take over SIGINT and re-raise it after shutting down.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await task
