"""End to end: orders over HTTP -> the worker instructs simulated nodes -> the simulator posts
signed events back to the API -> every order delivered, with 5xx injected on the partner calls
and no duplicate side effect in the simulator's ledger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.config import Settings
from dom_workflows.network import Network
from tests.support.auth import authorize
from tests.support.servers import free_port
from workers.api.app import serve as serve_api
from workers.simulator.app import Simulator
from workers.simulator.app import serve as serve_sim
from workers.simulator.config import SimConfig
from workers.simulator.faults import Fault
from workers.worker import build_worker, dependencies

pytestmark = pytest.mark.devserver


@dataclass
class Stack:
    api: httpx.AsyncClient
    sim: Simulator
    sim_url: str


async def _until_up(http: httpx.AsyncClient, url: str, task: asyncio.Task[None]) -> None:
    for _ in range(200):
        if task.done():
            task.result()  # surfaces the reason it died
        try:
            if (await http.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never came up")


@pytest_asyncio.fixture
async def stack(
    dev_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    api_port, sim_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    settings = replace(
        Settings(),
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=task_queue,
        dom_home=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}",  # the sqlite_engine's file
        partner_sim_url=sim_url,
        carrier_url=f"{sim_url}/carrier",
        payment_url=f"{sim_url}/payments",
        api_url=f"http://127.0.0.1:{api_port}",
    )
    sim = Simulator(
        SimConfig(
            api_url=settings.api_url,
            accept_delay=0.3,
            ship_delay=0.3,
            deliver_delay=0.3,
            fail_rate=0.35,
            seed=20240601,
        )
    )
    # Whatever the dice say, the very first partner call takes the nasty path: the node takes
    # the request, then answers 500, so the worker must retry under the same key.
    draw = sim.faults.draw
    forced = [Fault.FAIL_AFTER]
    sim.faults.draw = lambda: forced.pop() if forced else draw()  # type: ignore[method-assign]

    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(serve_sim(sim, sim_port, stop)),
        asyncio.create_task(serve_api(settings, api_port, stop)),
    ]
    async with (
        dependencies(settings, engine=sqlite_engine, network=network) as deps,
        build_worker(dev_env.client, task_queue, deps),
        httpx.AsyncClient(base_url=settings.api_url, timeout=10.0) as api,
    ):
        await authorize(api, sqlite_engine)
        try:
            await _until_up(api, f"{sim_url}/_health", tasks[0])
            await _until_up(api, "/healthz", tasks[1])
            yield Stack(api, sim, sim_url)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)


def order(
    order_id: str, lines: list[tuple[str, int]], zip_code: str, **extra: Any
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "channel": "web",
        "customer": {"id": "C-E2E", "tier": "standard"},
        "lines": [
            {
                "line_id": str(i + 1),
                "sku": sku,
                "qty": qty,
                "unit_price": {"amount": "49.00", "currency": "USD"},
            }
            for i, (sku, qty) in enumerate(lines)
        ],
        "ship_to": {"name": "E2E", "line1": "1 Test St", "zip": zip_code, "country": "US"},
        **extra,
    }


async def until_done(
    api: httpx.AsyncClient, order_id: str, within: float = 120.0
) -> dict[str, Any]:
    state: dict[str, Any] = {}
    async with asyncio.timeout(within):
        while True:
            r = await api.get(f"/v1/orders/{order_id}")
            if r.status_code == 200:
                state = r.json()
                if state["status"] in ("completed", "cancelled", "failed"):
                    return state
            await asyncio.sleep(0.25)


async def test_orders_reach_delivered_through_the_partner_simulator_without_duplicates(
    stack: Stack,
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    orders = [
        order(f"E2E-{run}-1", [("BOOT-HIKE-9", 1), ("SOCK-WOOL-3PK", 2)], "10118"),
        order(f"E2E-{run}-2", [("FLEECE-M", 1), ("TENT-2P", 1), ("BOTTLE-1L", 1)], "98101"),
        order(f"E2E-{run}-3", [("TEE-MERINO-M", 2)], "33131", service_level="express"),
    ]
    for body in orders:
        r = await stack.api.post("/v1/orders", json=body)
        assert r.status_code == 202, r.text
        assert r.json()["order_id"] == body["order_id"]

    states = await asyncio.gather(*(until_done(stack.api, o["order_id"]) for o in orders))

    for state in states:
        assert state["status"] == "completed", state
        live = [
            s
            for s in state["shipments"]
            if s["status"] not in ("rejected", "cancelled", "timed_out")
        ]
        assert live and all(s["status"] == "delivered" for s in live), state["shipments"]
        assert all(s["tracking"] for s in live)
        assert sum(ln["delivered"] for ln in state["lines"]) == sum(
            ln["qty"] for ln in state["lines"]
        )

    async with httpx.AsyncClient(base_url=stack.sim_url) as sim:
        effects = (await sim.get("/_effects")).json()
        log = (await sim.get("/_log")).json()
        events = (await sim.get("/_events")).json()
    # One effect per idempotency key and per shipment, although calls failed and were retried.
    assert effects["duplicates"] == [], effects
    assert set(effects["by_key"].values()) == {1}
    shipments = {s["shipment_id"] for st in states for s in st["shipments"]}
    subjects = set(effects["by_subject"])
    assert {s for s in subjects if s.startswith("node-request:")} == {
        f"node-request:{sid}" for sid in shipments
    }
    # Payments ran too: one authorization per order, one capture per shipment that shipped.
    orders = {st["order_id"] for st in states}
    assert {s for s in subjects if s.startswith("authorize:")} == {f"authorize:{o}" for o in orders}
    delivered = {
        s["shipment_id"] for st in states for s in st["shipments"] if s["status"] == "delivered"
    }
    assert {s for s in subjects if s.startswith("capture:")} == {
        f"capture:{sid}" for sid in delivered
    }
    assert any(e["fault"] == "fail_after" for e in log)
    retried = [e for e in log if e["replayed"] and e["status"] in (200, 201, 202)]
    assert retried, "no request was retried after a lost answer"
    # Every event reached the API, each exactly once as far as the simulator is concerned.
    assert all(e["delivered"] for e in events)
    assert len({e["event_id"] for e in events}) == len(events) == 3 * len(shipments)


async def test_cancelling_over_http_cancels_at_the_node_once(stack: Stack) -> None:
    # Nodes accept quickly but would ship only in a minute: the cancel reaches them in time.
    stack.sim.config.ship_delay = 60.0
    order_id = f"E2E-CXL-{uuid.uuid4().hex[:6].upper()}"
    r = await stack.api.post("/v1/orders", json=order(order_id, [("FLEECE-M", 1)], "60601"))
    assert r.status_code == 202, r.text
    async with asyncio.timeout(60):
        while True:
            state = (await stack.api.get(f"/v1/orders/{order_id}")).json()
            if state["shipments"] and all(s["status"] == "accepted" for s in state["shipments"]):
                break
            await asyncio.sleep(0.2)
    r = await stack.api.post(f"/v1/orders/{order_id}/cancel", json={"reason": "changed my mind"})
    assert r.status_code == 200, r.text
    final = await until_done(stack.api, order_id)
    assert final["status"] == "cancelled"

    sids = {s["shipment_id"] for s in final["shipments"]}
    async with asyncio.timeout(30):  # the node cancel is an activity after the update returns
        while True:
            if all(stack.sim.fulfilments.jobs[sid].status == "cancelled" for sid in sids):
                break
            await asyncio.sleep(0.2)
    effects = stack.sim.log.effects()
    assert effects["duplicates"] == []
    assert {s for s in effects["by_subject"] if s.startswith("node-cancel:")} == {
        f"node-cancel:{sid}" for sid in sids
    }
    assert not [p for p in stack.sim.poster.posted if p.type == "shipment.shipped"]
