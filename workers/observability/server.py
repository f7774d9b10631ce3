"""Where Prometheus scrapes: a small HTTP server on a worker's own port, and the exposition the
API serves at GET /metrics. Both show the process-wide registry: the DOM's domain metrics,
the Temporal SDK's (sdk_metrics.py) and the Python process collectors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server

log = logging.getLogger("dom.observability")

METRICS_PORT_ENV = "DOM_METRICS_PORT"


def exposition() -> tuple[bytes, str]:
    """(body, content type) of one scrape in the Prometheus text format."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_metrics_port(explicit: int | None = None) -> int | None:
    """The worker's metrics port: `explicit` (--metrics-port), else DOM_METRICS_PORT, else
    None (no metrics server). 0 asks for a free port."""
    if explicit is not None:
        return explicit
    raw = os.environ.get(METRICS_PORT_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 65535:
        raise ValueError(f"{METRICS_PORT_ENV} must be a port number (0-65535), not {raw!r}")
    return int(raw)


@contextlib.asynccontextmanager
async def metrics_server(port: int | None, host: str = "0.0.0.0") -> AsyncIterator[int | None]:
    """Serve /metrics on `port` (0: a free one) while the block runs; yields the port bound,
    or None when `port` is None (no server). The server is prometheus_client's threaded one:
    a scrape never waits for the worker's event loop, nor the loop for a scrape."""
    if port is None:
        yield None
        return
    server, thread = start_http_server(port, addr=host)
    bound = int(server.server_address[1])
    log.info("metrics on http://%s:%d/metrics", host, bound)
    try:
        yield bound
    finally:
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        thread.join(timeout=5)
