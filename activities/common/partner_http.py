"""One HTTP call to a partner API, the way every edge adapter makes it.

* The same Idempotency-Key on every attempt, so the partner applies the call at most once even
  when an answer is lost (a 5xx after the effect, or a timeout).
* A few quick in-activity retries with exponential backoff and jitter on 5xx, 429 and network
  errors absorb blips cheaply; after that a retryable ApplicationError hands the problem to
  Temporal's activity retry policy (minutes of backoff, durable across worker restarts).
* Everything else (2xx, 4xx) is returned for the adapter to interpret: only it knows whether
  a 409 means "already done" or "refused".

* A request is never cancelled from outside once it is in httpx's hands. httpcore 1.0.x leaks
  a pool slot when a request is cancelled after the pool assigned it a new connection but before
  that connection was established (encode/httpcore#1093, #830; httpx#1461): the connection
  stays CONNECTING forever, and once every slot is lost each request fails with PoolTimeout
  against a healthy server. Temporal cancels activities (heartbeat timeouts, workflow cancels,
  worker shutdown), so `send` runs the request in a shielded task that only httpx's own
  timeouts can end, and a semaphore sized to the pool's max_connections keeps waiters out of
  the pool's queue (waiting on the semaphore is cancel-safe).

Shared by the node, supplier, carrier and payment adapters, and by the partner simulator.

Every call made by `PartnerHttp.post` is reported to the `call_observers` (the worker's
metrics: latency and errors by partner and outcome); nothing is logged per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import weakref
from collections.abc import Callable
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

IDEMPOTENCY_HEADER = "Idempotency-Key"

# Explicit pool limits and timeouts for every partner client: connect/read/write bound a call,
# `pool` bounds the wait for a connection (with the gate below it is a safety net only).
DEFAULT_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)
DEFAULT_TIMEOUT = httpx.Timeout(10.0, pool=5.0)
HTTPX_DEFAULT_MAX_CONNECTIONS = 100

_gates: weakref.WeakKeyDictionary[httpx.AsyncClient, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
# Requests whose caller was cancelled, still running to their end under httpx's timeouts.
_orphans: set[asyncio.Task[httpx.Response]] = set()


def new_client(
    *,
    limits: httpx.Limits = DEFAULT_LIMITS,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An httpx client with explicit pool limits and timeouts, and a gate of the same size."""
    client = httpx.AsyncClient(limits=limits, timeout=timeout, **kwargs)
    _gates[client] = asyncio.Semaphore(limits.max_connections or HTTPX_DEFAULT_MAX_CONNECTIONS)
    return client


def _gate(http: httpx.AsyncClient) -> asyncio.Semaphore:
    gate = _gates.get(http)
    if gate is None:
        # A client made elsewhere: size the gate to its pool (httpx's default if unknown).
        pool = getattr(getattr(http, "_transport", None), "_pool", None)
        size = getattr(pool, "_max_connections", None) or HTTPX_DEFAULT_MAX_CONNECTIONS
        gate = _gates[http] = asyncio.Semaphore(size)
    return gate


def _forget(task: asyncio.Task[httpx.Response]) -> None:
    _orphans.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an orphan's failure is nobody's to report


def in_flight_orphans() -> int:
    """Requests still running although their caller was cancelled (tests, diagnostics)."""
    return len(_orphans)


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """`http.request(...)` that cancellation cannot tear apart inside the connection pool.

    The caller may be cancelled at any point: while it waits for the gate nothing has started;
    after that the request runs to its end (answer, error or httpx timeout) in its own task and
    gives its pool slot and its gate permit back, while the caller gets its CancelledError."""
    gate = _gate(http)
    await gate.acquire()
    try:
        task = asyncio.ensure_future(http.request(method, url, **kwargs))
    except BaseException:
        gate.release()
        raise
    task.add_done_callback(lambda _: gate.release())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        _orphans.add(task)
        task.add_done_callback(_forget)  # runs at once if it has already finished
        raise


def _retryable_status(code: int) -> bool:
    return code >= 500 or code in (408, 429)


# (partner, outcome, seconds, error reason or None) of each call. The worker registers its
# metrics here; this layer must not import the worker's (tests/test_layers.py).
CallObserver = Callable[[str, str, float, str | None], None]
call_observers: list[CallObserver] = []


def _observe(partner: str, outcome: str, seconds: float, error: str | None = None) -> None:
    for observer in call_observers:
        with contextlib.suppress(Exception):  # an observer never fails a partner call
            observer(partner, outcome, seconds, error)


def _outcome(code: int) -> tuple[str, str | None]:
    if _retryable_status(code):
        return "retryable_status", f"status_{code // 100}xx" if code >= 500 else f"status_{code}"
    return ("ok", None) if code < 400 else ("refused", None)


def _network_error(e: httpx.HTTPError) -> str:
    return "timeout" if isinstance(e, httpx.TimeoutException) else "unreachable"


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
        partner: str | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.unavailable_type = unavailable_type
        # The metrics label: the kind of partner (node, supplier, carrier, payment).
        self.partner = partner or unavailable_type.removesuffix("Unavailable").lower()
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
            started = time.perf_counter()
            try:
                kwargs: dict[str, Any] = {"json": body, "headers": {IDEMPOTENCY_HEADER: key}}
                if self.timeout is not None:
                    kwargs["timeout"] = self.timeout
                response = await send(self.http, "POST", url, **kwargs)
            except httpx.HTTPError as e:
                _observe(self.partner, "error", time.perf_counter() - started, _network_error(e))
                problem = f"{url} unreachable: {e!r}"
                continue
            outcome, error = _outcome(response.status_code)
            _observe(self.partner, outcome, time.perf_counter() - started, error)
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
