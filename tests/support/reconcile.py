"""A whole DOM against the partner simulator, for reconciliation tests: a worker with every
activity on a real Temporal server (its partners are the simulator over HTTP), the API app
receiving the simulator's signed events, and a ledger (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.inventory import schema
from dom_workflows.common.models import Address, Customer
from dom_workflows.config import PROJECT_ROOT, Settings
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.order.models import OrderLine, OrderRequest, OrderState, order_workflow_id
from dom_workflows.order.workflows import OrderWorkflow
from dom_workflows.reconcile.models import ReconcileInput, ReconcileReport
from dom_workflows.reconcile.workflows import ReconciliationWorkflow
from tests.support.servers import free_port
from tests.support.until import until
from workers.api.app import ApiDeps, create_app
from workers.api.security import load_secrets
from workers.client import DomClient
from workers.simulator.app import Simulator
from workers.simulator.app import serve as serve_sim
from workers.simulator.config import SimConfig
from workers.worker import build_worker, dependencies

FAST = {"accept_delay": 0.05, "ship_delay": 0.05, "deliver_delay": 0.05, "jitter": 0.0}


@dataclass
class Stack:
    client: Client
    engine: AsyncEngine
    sim: Simulator
    sim_url: str
    http: httpx.AsyncClient  # to the simulator, as a test pokes it
    task_queue: str
    started: datetime

    async def order(self, lines: list[tuple[str, int]], zip_code: str = "10118") -> str:
        order = OrderRequest(
            order_id=f"R-{uuid.uuid4().hex[:8]}",
            channel="web",
            customer=Customer(id="C-R", tier="standard"),
            lines=[
                OrderLine(
                    line_id=str(i + 1),
                    sku=sku,
                    qty=qty,
                    unit_price=Money(amount=Decimal("40.00"), currency="USD"),
                )
                for i, (sku, qty) in enumerate(lines)
            ],
            ship_to=Address(name="R", line1="1 Main St", city="New York", zip=zip_code),
        )
        await self.client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order_workflow_id(order.order_id),
            task_queue=self.task_queue,
        )
        return order.order_id

    async def state(self, order_id: str) -> OrderState:
        handle = self.client.get_workflow_handle(order_workflow_id(order_id))
        return await handle.query(OrderWorkflow.state)

    async def until(self, order_id: str, check: Any, what: str) -> OrderState:
        return await until(
            lambda: self.state(order_id),
            check,
            what,
            describe=lambda s: s.model_dump_json(indent=1),
        )

    async def completed(self, order_id: str) -> OrderState:
        await asyncio.wait_for(
            self.client.get_workflow_handle(order_workflow_id(order_id)).result(), 60
        )
        return await self.state(order_id)

    async def reconcile(self, *, dry_run: bool = False) -> ReconcileReport:
        """One ReconciliationWorkflow run, as the Schedule starts it, over this test's window."""
        return await self.client.execute_workflow(
            ReconciliationWorkflow.run,
            ReconcileInput(
                since=self.started, dry_run=dry_run, settle=timedelta(0), trigger="test"
            ),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=self.task_queue,
            result_type=ReconcileReport,
        )

    async def sim_post(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        return await self.http.post(path, json=body, headers={"Idempotency-Key": key})


@contextlib.asynccontextmanager
async def running_stack(
    env: WorkflowEnvironment, engine: AsyncEngine, network: Network, task_queue: str, home: Path
) -> AsyncIterator[Stack]:
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    settings = replace(
        Settings(),
        temporal_address=env.client.service_client.config.target_host,
        task_queue=task_queue,
        dom_home=home,
        partner_sim_url=sim_url,
        carrier_url=f"{sim_url}/carrier",
        payment_url=f"{sim_url}/payments",
    )
    api_deps = ApiDeps(
        dom=DomClient(env.client, task_queue),
        engine=engine,
        network=network,
        secrets=load_secrets(PROJECT_ROOT / "examples" / "partners.json"),
    )
    # The simulator posts its signed events straight into the API app.
    events = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(api_deps)))
    sim = Simulator(SimConfig(api_url="http://dom.test", seed=13, **FAST), events_http=events)
    stop = asyncio.Event()
    server = asyncio.create_task(serve_sim(sim, sim_port, stop))
    started = datetime.now(UTC) - timedelta(seconds=1)
    async with (
        dependencies(settings, engine=engine, network=network) as deps,
        build_worker(env.client, task_queue, deps),
        httpx.AsyncClient(base_url=sim_url, timeout=10.0) as http,
    ):
        try:
            for _ in range(200):
                try:
                    if (await http.get("/_health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            yield Stack(env.client, engine, sim, sim_url, http, task_queue, started)
        finally:
            stop.set()
            await asyncio.gather(server, return_exceptions=True)
            await events.aclose()


async def reserved(stack: Stack, node: str, sku: str) -> int:
    pos = schema.inventory_positions
    async with stack.engine.connect() as conn:
        value = await conn.scalar(
            sa.select(pos.c.reserved).where(pos.c.node_id == node, pos.c.sku == sku)
        )
    return int(value or 0)


async def leave_reservation(
    stack: Stack, order_id: str, shipment_id: str, node: str, sku: str, qty: int
) -> None:
    """What a lost rejection left behind (issue 13, order ...-0010): units still reserved for
    an order the ledger has closed."""
    now = datetime.now(UTC)
    pos = schema.inventory_positions
    async with stack.engine.begin() as conn:
        await conn.execute(
            schema.reservations.insert().values(
                order_id=order_id,
                route_attempt=1,
                shipment_id=shipment_id,
                line_id="1",
                node_id=node,
                sku=sku,
                qty=qty,
                status="reserved",
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            pos.update()
            .where(pos.c.node_id == node, pos.c.sku == sku)
            .values(reserved=pos.c.reserved + qty)
        )
