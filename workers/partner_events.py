"""The worker's partner-event delivery loop: stored events Temporal did not take when they
arrived (activities/partner_events) are signalled to their orders again, with the same event id,
until each is delivered or its order has ended.

The API signals every event itself as soon as it is stored, so this loop only sees the few whose
signal failed (Temporal unavailable or overloaded). Several workers may run it at once: the order
workflow ignores an event id it has seen, and a row is settled only once.

`DOM_PARTNER_EVENT_SWEEP_SECONDS` (default 10) sets how often it looks; each event also waits
its own backoff (activities/partner_events/store.py) between attempts.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.partner_events.delivery import deliver_due

log = logging.getLogger("dom.partner_events")

SWEEP_SECONDS_ENV = "DOM_PARTNER_EVENT_SWEEP_SECONDS"
DEFAULT_SWEEP_SECONDS = 10.0


def sweep_seconds() -> float:
    raw = os.environ.get(SWEEP_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_SWEEP_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{SWEEP_SECONDS_ENV} must be a number of seconds, not {raw!r}") from None
    if not 0.1 <= seconds <= 300:
        raise ValueError(f"{SWEEP_SECONDS_ENV} must be between 0.1 and 300 seconds, not {raw}")
    return seconds


async def delivery_loop(client: Client, engine: AsyncEngine, every: float) -> None:
    """Deliver due events every `every` seconds until cancelled; a failed pass is logged and
    the next one tries again (the events stay stored)."""
    while True:
        try:
            sweep = await deliver_due(engine, client)
            if sweep.tried:
                log.info(
                    "partner events: %d delivered, %d for closed orders, %d still pending",
                    sweep.delivered,
                    sweep.closed,
                    sweep.pending,
                )
        except Exception as e:  # e.g. the database is down: next pass retries
            log.warning("partner event delivery pass failed: %s", e)
        await asyncio.sleep(every)


@asynccontextmanager
async def delivering(
    client: Client, engine: AsyncEngine, every: float | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    """Run the delivery loop for the duration of the block (stopped inside the event loop)."""
    task = asyncio.create_task(delivery_loop(client, engine, every or sweep_seconds()))
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
