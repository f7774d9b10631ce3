"""The outbound availability webhook: the change feed POSTed to one URL as it happens.

On when `DOM_AVAILABILITY_WEBHOOK_URL` and `DOM_AVAILABILITY_WEBHOOK_SECRET` are set; it runs
inside the API process (`serve()`), which already holds the database, the network config and the
lifecycle every deployment runs, so turning it on needs no new process. Several API processes
may run: a lease on the cursor row lets one of them publish at a time.

Every poll (`POLL_SECONDS`) numbers new committed changes and sends what follows the cursor as
one batch `{changes: [...], next}` (the body of GET /v1/availability/changes), signed like the
partner webhooks we verify (X-DOM-Timestamp, X-DOM-Signature = hex HMAC-SHA256(secret,
timestamp + "." + body), see dom_workflows/partners/signing.py), with an Idempotency-Key naming
the batch's seq range. The batch's end is written to the cursor row before the first try, so a
failed try, or a restart, resends exactly that batch with the same key until a 2xx acknowledges
it; only then does the cursor move. A receiver sees each change at least once and repeats only
of the last unacknowledged batch, which its Idempotency-Key lets it drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import availability, schema
from dom_workflows.network import Network
from dom_workflows.partners.signing import signed_headers
from workers.api.availability_feed import as_changes, buffer_for

log = logging.getLogger("dom.api.availability_webhook")

URL_ENV = "DOM_AVAILABILITY_WEBHOOK_URL"
SECRET_ENV = "DOM_AVAILABILITY_WEBHOOK_SECRET"
# The channel whose safety buffer `available` is computed with (none: the full ATP).
CHANNEL_ENV = "DOM_AVAILABILITY_WEBHOOK_CHANNEL"
CURSOR = "availability-webhook"
POLL_SECONDS = 1.0
BATCH = 500
HTTP_TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 30.0
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
IDEMPOTENCY_HEADER = "Idempotency-Key"

cursors = schema.feed_cursors


@dataclass
class Batch:
    after: int  # the acknowledged seq the batch follows
    through: int  # its last seq
    body: bytes

    @property
    def key(self) -> str:
        return f"dom-availability-{self.after + 1}-{self.through}"


@dataclass
class AvailabilityWebhook:
    engine: AsyncEngine
    network: Network
    url: str
    secret: str
    channel: str | None = None
    poll_seconds: float = POLL_SECONDS
    batch_size: int = BATCH
    backoff_first: float = BACKOFF_FIRST_SECONDS
    backoff_max: float = BACKOFF_MAX_SECONDS
    clock: Callable[[], float] = field(default=lambda: datetime.now(UTC).timestamp())
    owner: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    http: httpx.AsyncClient | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; a failing receiver is retried with growing pauses."""
        own = self.http is None
        http = self.http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
        backoff = self.backoff_first
        try:
            while not stop.is_set():
                try:
                    sent = await self.publish_once(http)
                    backoff = self.backoff_first
                    pause = 0.0 if sent else self.poll_seconds
                except Exception as e:  # the receiver or the database: retry, never die
                    log.warning("availability webhook: %s; retrying in %.1f s", e, backoff)
                    pause, backoff = backoff, min(backoff * 2, self.backoff_max)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        finally:
            if own:
                await http.aclose()
            # A clean stop hands the lease on at once (a crash leaves it to expire).
            with contextlib.suppress(Exception):
                await self.release_lease()

    async def release_lease(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                cursors.update()
                .where(cursors.c.name == CURSOR, cursors.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None, updated_at=datetime.now(UTC))
            )

    async def publish_once(self, http: httpx.AsyncClient) -> bool:
        """Send the pending batch, or the next one: True if one was acknowledged. Raises when
        the receiver did not acknowledge (the batch stays pending, to be sent again)."""
        await availability.sequence(self.engine)
        if not await self._take_lease():
            return False
        batch = await self._pending_or_next()
        if batch is None:
            return False
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: batch.key,
            **signed_headers(self.secret, batch.body, self.clock()),
        }
        r = await http.post(self.url, content=batch.body, headers=headers)
        if not r.is_success:
            raise RuntimeError(f"{self.url} answered {r.status_code} to batch {batch.key}")
        await self._ack(batch)
        return True

    async def _take_lease(self) -> bool:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(_insert_missing_cursor(conn.dialect.name, now))
            taken = await conn.execute(
                cursors.update()
                .where(
                    cursors.c.name == CURSOR,
                    sa.or_(
                        cursors.c.lease_owner.is_(None),
                        cursors.c.lease_owner == self.owner,
                        cursors.c.lease_until < now,
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_until=now + timedelta(seconds=LEASE_SECONDS),
                    updated_at=now,
                )
            )
            return taken.rowcount == 1

    async def _pending_or_next(self) -> Batch | None:
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(cursors.c.acked_seq, cursors.c.pending_seq).where(
                        cursors.c.name == CURSOR
                    )
                )
            ).one()
        if row.pending_seq is not None:
            rows = await availability.read_changes(
                self.engine, row.acked_seq, self.batch_size, through=row.pending_seq
            )
            return self._batch(row.acked_seq, rows)
        rows = await availability.read_changes(self.engine, row.acked_seq, self.batch_size)
        if not rows:
            return None
        # Durable before the first try: a restart resends this very batch.
        async with self.engine.begin() as conn:
            marked = await conn.execute(
                cursors.update()
                .where(
                    cursors.c.name == CURSOR,
                    cursors.c.acked_seq == row.acked_seq,
                    cursors.c.pending_seq.is_(None),
                    cursors.c.lease_owner == self.owner,
                )
                .values(pending_seq=rows[-1].seq, updated_at=datetime.now(UTC))
            )
        if marked.rowcount != 1:
            return None  # another publisher took over meanwhile
        return self._batch(row.acked_seq, rows)

    def _batch(self, after: int, rows: list[availability.Change]) -> Batch | None:
        if not rows:
            return None
        page = as_changes(rows, after, buffer_for(self.network, self.channel))
        body = json.dumps(page.model_dump(mode="json"), separators=(",", ":")).encode()
        return Batch(after=after, through=rows[-1].seq, body=body)

    async def _ack(self, batch: Batch) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                cursors.update()
                .where(cursors.c.name == CURSOR, cursors.c.pending_seq == batch.through)
                .values(acked_seq=batch.through, pending_seq=None, updated_at=datetime.now(UTC))
            )


def _insert_missing_cursor(dialect: str, now: datetime) -> sa.Insert:
    values = {"name": CURSOR, "acked_seq": 0, "updated_at": now}
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(cursors).values(**values).on_conflict_do_nothing()


def from_env(engine: AsyncEngine, network: Network) -> AvailabilityWebhook | None:
    """The webhook the environment configures, or None when it is off. A URL without a secret
    is refused: the receiver could not tell our batches from anyone's."""
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        return None
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise ValueError(f"{URL_ENV} is set but {SECRET_ENV} is not: batches must be signed")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{URL_ENV} must be an http(s) URL, got {url!r}")
    channel = os.environ.get(CHANNEL_ENV, "").strip() or None
    return AvailabilityWebhook(engine, network, url, secret, channel=channel)


@contextlib.asynccontextmanager
async def running(webhook: AvailabilityWebhook | None) -> AsyncIterator[None]:
    """Run `webhook` (if any) in the background for the duration of the block."""
    if webhook is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(webhook.run(stop), name="dom-availability-webhook")
    log.info("availability webhook: publishing to %s", webhook.url)
    try:
        yield
    finally:
        stop.set()
        await task
