"""A burst through the real simulator: hundreds of jobs answering instantly, a third of them
cancelled by the DOM while their events are being posted. Every event that was produced reaches
a real local HTTP server, and the poster still serves afterwards (no leaked pool slot)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from tests.adapters.local_http import local_http
from tests.simulator.bodies import fulfilment
from workers.simulator.app import Simulator
from workers.simulator.config import SimConfig, load_secrets

JOBS = 120  # x 3 events
SENDERS = 4


async def _settle(sim: Simulator, shipment_ids: list[str]) -> None:
    for sid in shipment_ids:
        task = sim.fulfilments.jobs[sid].task
        assert task is not None
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await sim.poster.drain()


async def test_a_burst_with_cancellations_drains_completely() -> None:
    # The server closes each connection after its answer: queued posts keep getting *new*
    # connections, the moment at which a cancelled request leaks its slot in httpcore 1.0.x.
    async with local_http(status=202, close=True) as api:
        config = SimConfig(
            api_url=api.url, accept_delay=0, ship_delay=0, deliver_delay=0, jitter=0, seed=1
        )
        sim = Simulator(config, secrets=load_secrets())
        sim.poster.senders = SENDERS
        try:
            ids = [f"B-{i}:1:wh-reno" for i in range(JOBS)]
            for sid in ids:
                assert sim.fulfilments.request("wh-reno", fulfilment(sid)).status == 202
            # The DOM cancels every third request while the burst is in flight, in waves that
            # land at different stages (yielding to the loop, no clock involved).
            cancelled = ids[::3]
            for n, sid in enumerate(cancelled):
                if n % 4 == 0:
                    await asyncio.sleep(0)
                sim.fulfilments.cancel("wh-reno", sid)
            async with asyncio.timeout(30):
                await _settle(sim, ids)

            posted = sim.poster.posted
            assert [p for p in posted if not p.delivered] == []
            received = [json.loads(b)["event_id"] for b in api.bodies]
            assert sorted(received) == sorted(p.event_id for p in posted)  # each exactly once
            full = set(ids) - set(cancelled)
            assert {f"{sid}:{t}" for sid in full for t in ("accepted", "shipped", "delivered")} <= {
                p.event_id for p in posted
            }
            # A cancelled job posts nothing after its cancel (at most its first event).
            for sid in cancelled:
                assert {p.type for p in posted if p.shipment_id == sid} <= {"fulfillment.accepted"}
            assert sim.poster.backlog == 0

            # The poster still serves: a second burst drains completely too.
            more = [f"C-{i}:1:wh-reno" for i in range(30)]
            for sid in more:
                sim.fulfilments.request("wh-reno", fulfilment(sid))
            async with asyncio.timeout(30):
                await _settle(sim, more)
            assert sum(p.delivered for p in posted if p.shipment_id in more) == 3 * len(more)
        finally:
            await sim.aclose()
