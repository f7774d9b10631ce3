"""Cancelled partner calls must not leak connection-pool slots (encode/httpcore#1093): httpcore
1.0.x keeps a connection CONNECTING forever when a request is cancelled after the pool gave it a
new connection and before it connected; once every slot is lost, each request is a PoolTimeout
against a healthy server. Temporal cancels activities mid-call, so PartnerHttp must survive it."""

from __future__ import annotations

import asyncio

import httpx

from activities.common.partner_http import PartnerHttp, new_client
from tests.adapters.local_http import local_http

ROUNDS = 60
CONCURRENT = 6  # three times the pool: requests wait inside the pool, where cancelling leaks


async def test_cancelled_calls_under_pool_contention_leave_the_pool_serving() -> None:
    async with local_http() as server:
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with new_client(limits=limits, timeout=httpx.Timeout(2.0, pool=0.5)) as http:
            api = PartnerHttp(http, server.url, unavailable_type="PartnerDown", attempts=1)
            for rnd in range(ROUNDS):
                calls = [
                    asyncio.create_task(api.post("things", f"k-{rnd}-{i}", {"n": i}))
                    for i in range(CONCURRENT)
                ]
                # Yield a varying number of times (no clock involved) so the cancellations land
                # at every stage: queued for the pool, assigned, connecting, awaiting the answer.
                for _ in range(rnd % CONCURRENT):
                    await asyncio.sleep(0)
                for call in calls:
                    call.cancel()
                await asyncio.gather(*calls, return_exceptions=True)
            # The pool still serves, promptly: each call gets a slot well within the 0.5 s pool
            # timeout (a leaked pool answers every one with PoolTimeout -> PartnerDown).
            for i in range(10):
                response = await api.post("things", f"after-{i}", {"n": i})
                assert response.status_code == 200
            assert server.bodies[-1] == b'{"n":9}'
