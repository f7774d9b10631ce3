"""The API's own request metrics and its webhook refusals.

`RequestMetrics` is a pure ASGI middleware (no per-request task or lock): requests and their
latency by method, route template (`/v1/orders/{order_id}`, never the id) and status class.
`count_webhook_refusals` wraps the app's problem handler: a refused signed webhook counts by
source (a configured partner id, `shopify`, or `unknown` -- a path segment anyone can send must
not become a label value) and reason (the problem's kind; a stale signature timestamp is told
apart from a bad signature)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import Counter, Histogram
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.observability import metrics

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_REQUESTS = Counter(
    "dom_http_requests",
    "API requests, by method, route template and status code class.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "dom_http_request_duration_seconds",
    "API request latency (to the end of the response), by method and route template.",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)
WEBHOOK_PREFIXES = ("/v1/partners/", "/v1/channels/shopify/")


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            HTTP_REQUESTS.labels(method, template, f"{status // 100}xx").inc()
            HTTP_DURATION.labels(method, template).observe(time.perf_counter() - started)


def webhook_source(request: Request, partners: set[str]) -> str | None:
    """Who sent a webhook (as a label value), or None when the path is not a webhook."""
    path = request.url.path
    if path.startswith("/v1/channels/shopify/"):
        return "shopify"
    if path.startswith("/v1/partners/"):
        partner = path.split("/")[3] if path.count("/") >= 4 else ""
        return partner if partner in partners else "unknown"
    return None


def refusal_reason(kind: str, detail: str) -> str:
    if kind == "bad-signature" and "timestamp" in detail and " away from now" in detail:
        return "stale-timestamp"
    return kind


def count_webhook_refusals(app: FastAPI, problem_type: type[Exception]) -> None:
    """Wrap the app's handler of `problem_type` (errors.Problem: it has .kind and .detail)."""
    handler = app.exception_handlers[problem_type]

    async def counting(request: Request, exc: Exception) -> Response:
        deps = request.app.state.deps
        source = webhook_source(request, set(deps.secrets.partners))
        if source is not None:
            kind = str(getattr(exc, "kind", "error"))
            reason = refusal_reason(kind, str(getattr(exc, "detail", "")))
            metrics.WEBHOOK_REFUSALS.labels(source, reason).inc()
        result: Any = handler(request, exc)
        return await result if isinstance(result, Awaitable) else result

    app.exception_handlers[problem_type] = counting
