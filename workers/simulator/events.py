"""Posting signed partner events to the DOM API: `POST {api}/v1/partners/{partner}/events`.

Event ids are stable (`<shipment>:<type>`), so when a post's answer is lost and we send it
again the API recognises the duplicate. Each attempt is signed afresh: the timestamp is inside
the MAC and stale signatures are refused.

Events are posted by a fixed number of sender tasks reading one queue, never by the task of the
job that produced them: a job the DOM cancels (or a reset) only stops *waiting* for its event,
so an HTTP request is never cancelled mid-flight (httpcore leaks a pool slot when that happens,
encode/httpcore#1093), and a burst of thousands of events is at most `senders` requests at a
time on a pool exactly that large -- nothing ever waits inside the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from activities.common.partner_http import send
from dom_workflows.partners.models import PartnerEvent
from dom_workflows.partners.signing import signed_headers
from workers.simulator.config import SimConfig

log = logging.getLogger("dom.simulator.events")

DEFAULT_SENDERS = 8
EVENT_TIMEOUT = httpx.Timeout(10.0, pool=5.0)


@dataclass
class Posted:
    partner: str
    event_id: str
    type: str
    shipment_id: str
    status: int | None  # the API's last answer; None = never reached
    attempts: int
    delivered: bool


@dataclass
class _Outgoing:
    partner: str
    event: PartnerEvent
    done: asyncio.Future[Posted]


class EventPoster:
    def __init__(
        self,
        config: SimConfig,
        secrets: dict[str, str],
        http: httpx.AsyncClient | None = None,
        *,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        senders: int = DEFAULT_SENDERS,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self._http = http
        self._own_http = http is None
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.senders = max(1, senders)
        self.posted: list[Posted] = []
        self._queue: asyncio.Queue[_Outgoing] | None = None
        self._workers: list[asyncio.Task[None]] = []

    @property
    def http(self) -> httpx.AsyncClient:
        # Created on first use, inside the running loop that will use it; one connection per
        # sender, so no request ever queues for a connection.
        if self._http is None:
            limits = httpx.Limits(
                max_connections=self.senders, max_keepalive_connections=self.senders
            )
            self._http = httpx.AsyncClient(limits=limits, timeout=EVENT_TIMEOUT)
        return self._http

    @property
    def backlog(self) -> int:
        """Events waiting for a sender."""
        return self._queue.qsize() if self._queue is not None else 0

    async def drain(self) -> None:
        """Return once every event handed over so far was delivered or given up on."""
        if self._queue is not None:
            await self._queue.join()

    async def aclose(self) -> None:
        await self._stop_senders()
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    async def reset(self) -> None:
        """Drop queued events (their jobs are gone) and forget what was posted."""
        await self._stop_senders()
        self.posted.clear()

    async def _stop_senders(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait().done.cancel()
            self._queue = None

    def knows(self, partner: str) -> bool:
        return partner in self.secrets

    def enqueue(self, partner: str, event: PartnerEvent) -> asyncio.Future[Posted]:
        """Hand an event to the senders; the future resolves when it was delivered or given
        up on. Cancelling the future does not cancel a post already under way."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        if not self._workers:
            self._workers = [
                asyncio.get_running_loop().create_task(self._sender(self._queue))
                for _ in range(self.senders)
            ]
        done: asyncio.Future[Posted] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Outgoing(partner, event, done))
        return done

    async def deliver(self, partner: str, event: PartnerEvent) -> Posted:
        """Post through the senders and wait for the outcome. If the caller is cancelled it
        stops waiting; the post itself carries on."""
        return await asyncio.shield(self.enqueue(partner, event))

    async def _sender(self, queue: asyncio.Queue[_Outgoing]) -> None:
        while True:
            item = await queue.get()
            try:
                if item.done.cancelled():
                    continue
                posted = await self.post(item.partner, item.event)
                if not item.done.done():
                    item.done.set_result(posted)
            except Exception as e:  # a bug must not stop a sender; the log shows it
                log.exception("posting %s failed", item.event.event_id)
                if not item.done.done():
                    item.done.set_exception(e)
            finally:
                queue.task_done()

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
                response = await send(self.http, "POST", url, content=body, headers=headers)
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
