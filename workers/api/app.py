"""The FastAPI application, its dependencies and an in-process uvicorn runner.

`create_app(deps)` is pure wiring, so tests drive it over httpx's ASGI transport with a real
Temporal and ledger; `serve()` runs the same app for `dom api` and `dom dev`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import sqlalchemy as sa
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from activities.inventory.db import create_engine, migrate
from dom_workflows.config import Settings
from dom_workflows.network import load_network
from workers.api import (
    alerts,
    availability_feed,
    carts,
    errors,
    holds,
    inbound,
    inventory,
    kpis,
    network,
    nodes,
    openapi,
    order_list,
    orders,
    partners,
    promise,
    replenishment,
    returns,
    shopify,
)
from workers.api.auth import anonymous, enforce, requires
from workers.api.availability_webhook import from_env as availability_webhook_from_env
from workers.api.availability_webhook import running as running_webhook
from workers.api.call_count import CallCounter
from workers.api.deps import ApiDeps
from workers.api.security import SecretHeaderMiddleware, load_secrets
from workers.client import DomClient, connect
from workers.observability import server as metrics_server
from workers.observability import tracing
from workers.observability.http_metrics import RequestMetrics, count_webhook_refusals
from workers.observability.interceptors import ClientMetricsInterceptor
from workers.observability.sdk_metrics import temporal_telemetry

__all__ = ["ApiDeps", "api_dependencies", "create_app", "serve"]

log = logging.getLogger("dom.api")
HEALTH_TIMEOUT_S = 3.0


def create_app(deps: ApiDeps) -> FastAPI:
    app = FastAPI(
        title="dom-workflows API",
        version="1.0",
        description=(
            "Distributed order management on Temporal: submit and follow orders, read ATP, and "
            "receive partner and sales-channel webhooks. Errors are RFC 9457 problem+json. "
            "Every route but /healthz needs `Authorization: Bearer <API key>` with the scope it "
            "names (orders:write, orders:read, ops); partner and Shopify webhooks are "
            "authenticated by their HMAC signatures instead."
        ),
        # Secure by default: every route is checked; one that declares no access is refused.
        dependencies=[Depends(enforce)],
    )
    app.state.deps = deps
    errors.install(app)
    count_webhook_refusals(app, errors.Problem)
    openapi.install(app)
    app.add_middleware(SecretHeaderMiddleware)
    app.add_middleware(RequestMetrics)
    for module in (
        order_list,
        orders,
        holds,
        inventory,
        partners,
        returns,
        shopify,
        # Before promise: its /v1/availability/{sku} would otherwise take "changes" for a SKU.
        availability_feed,
        promise,
        carts,
        nodes,
        inbound,
        kpis,
        alerts,
        replenishment,
        network,
    ):
        app.include_router(module.router)

    @app.get(
        "/healthz",
        tags=["ops"],
        dependencies=[anonymous()],
        responses={
            503: {
                "model": errors.ProblemDoc,
                "content": {errors.PROBLEM_JSON: {}},
                "description": "the database or Temporal does not answer",
            }
        },
    )
    async def healthz(request: Request) -> JSONResponse:
        """200 when the database and Temporal both answer; 503 (problem+json) otherwise."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                async with deps.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as e:  # any failure here is a health answer, not an error
            checks["database"] = f"failing: {e!r}"[:200]
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                ok = await deps.dom.client.service_client.check_health()
            checks["temporal"] = "ok" if ok else "not serving"
        except Exception as e:
            checks["temporal"] = f"failing: {e!r}"[:200]
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ok", **checks})
        failing = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
        return errors.problem_response(503, "unhealthy", failing, request.url.path)

    @app.get(
        "/metrics",
        tags=["ops"],
        dependencies=[Depends(requires("ops"))],
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
            **{
                status: {"model": errors.ProblemDoc, "content": {errors.PROBLEM_JSON: {}}}
                for status in (401, 403)
            },
        },
    )
    def prometheus_metrics() -> Response:
        """Prometheus scrape: the DOM's domain metrics, the API's request metrics and the
        Temporal SDK's client metrics of this process (docs/observability.md). Needs a key
        with the `ops` scope (Prometheus: `authorization: {credentials_file: ...}`)."""
        body, content_type = metrics_server.exposition()
        return Response(body, media_type=content_type)

    tracing.instrument_app(app)
    return app


@contextlib.asynccontextmanager
async def api_dependencies(settings: Settings) -> AsyncIterator[ApiDeps]:
    """Temporal client, migrated DOM database, network and partner secrets, from settings."""
    call_log = os.environ.get("DOM_TEMPORAL_CALL_LOG")
    counter = CallCounter() if call_log else None
    interceptors = [ClientMetricsInterceptor(), *tracing.temporal_interceptors()]
    client = await connect(
        settings,
        [counter, *interceptors] if counter else interceptors,
        runtime=temporal_telemetry().runtime,
    )
    engine = create_engine(settings.database_url)
    reader = create_engine(settings.database_url, read_only=True)
    try:
        await migrate(engine)
        yield ApiDeps(
            dom=DomClient(client, settings.task_queue),
            engine=engine,
            network=load_network(settings.network_path),
            secrets=load_secrets(settings.partner_secrets_path),
            reader=reader,
        )
    finally:
        await reader.dispose()
        await engine.dispose()
        if counter and call_log:
            counter.write(Path(call_log))


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the host process (`dom api`, `dom dev`) owns
    SIGINT/SIGTERM and tells us to stop through an asyncio.Event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def reusable_socket(host: str, port: int) -> socket.socket:
    """A listening socket several API processes can bind at once (SO_REUSEPORT): the kernel
    spreads connections over them, so `dom api --workers N` uses N cores."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(
    settings: Settings,
    port: int,
    stop: asyncio.Event,
    host: str = "127.0.0.1",
    *,
    reuse_port: bool = False,
) -> None:
    """Serve the API until `stop` is set, then finish in-flight requests and return."""
    sockets = [reusable_socket(host, port)] if reuse_port else None
    tracing.configure_tracing("dom-api")
    async with api_dependencies(settings) as deps, temporal_telemetry().draining():
        config = uvicorn.Config(
            create_app(deps),
            host=host,
            port=port,
            lifespan="off",
            log_level="info",
            access_log=False,
        )
        server = _EmbeddedServer(config)

        async def run() -> None:
            try:
                await server.serve(sockets=sockets)
            except SystemExit as e:
                # uvicorn exits the process when it cannot bind; caught here, inside the task,
                # it is an ordinary error for the caller instead of the event loop's death.
                raise RuntimeError(f"the API could not start on {host}:{port}") from e

        # The optional availability webhook publishes from this process (see its module).
        webhook = availability_webhook_from_env(deps.engine, deps.network)
        async with running_webhook(webhook):
            task = asyncio.create_task(run(), name="dom-api")
            stopper = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                server.should_exit = True
                stopper.cancel()
                await task
