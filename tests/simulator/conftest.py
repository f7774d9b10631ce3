"""The simulator in-process over ASGI, with a tiny signed-event receiver playing the DOM API
(both in tests/support/sim.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from tests.support.sim import FAST, SECRETS, Receiver, SimFactory, SimHarness
from workers.simulator.app import Simulator, create_app
from workers.simulator.config import SimConfig


@pytest_asyncio.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    made: list[tuple[Simulator, httpx.AsyncClient, httpx.AsyncClient]] = []

    async def factory(**config: Any) -> SimHarness:
        receiver = Receiver()
        events_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
        sim = Simulator(
            SimConfig(**({"api_url": "http://dom-api", "seed": 7} | FAST | config)),
            secrets=SECRETS,
            events_http=events_http,
        )
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(sim)), base_url="http://sim"
        )
        made.append((sim, http, events_http))
        return SimHarness(sim, http, receiver)

    yield factory
    for sim, http, events_http in made:
        await sim.aclose()
        await http.aclose()
        await events_http.aclose()


@pytest_asyncio.fixture
async def h(make_sim: SimFactory) -> SimHarness:
    return await make_sim()
