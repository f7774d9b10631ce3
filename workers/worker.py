"""The DOM worker process: every domain's workflows and activities on one task queue.

Scale horizontally by running more of these; they share nothing but Temporal and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.fulfillment.activities import FulfillmentActivities
from activities.inventory.activities import InventoryActivities
from activities.inventory.db import create_engine, migrate
from activities.order.activities import OrderActivities
from dom_workflows.config import Settings
from dom_workflows.network import Network, load_network
from dom_workflows.order.workflows import OrderWorkflow
from dom_workflows.routing import load_policy

log = logging.getLogger("dom.worker")

WORKFLOWS: list[type] = [OrderWorkflow]


@dataclass
class Dependencies:
    engine: AsyncEngine
    network: Network
    policy: Any
    http: httpx.AsyncClient

    def activities(self) -> list[Any]:
        inventory = InventoryActivities(self.engine, self.network, self.policy)
        order = OrderActivities(self.engine, self.network)
        fulfillment = FulfillmentActivities(self.network, self.http)
        return [
            order.validate_order,
            inventory.reserve_and_route,
            inventory.release_reservations,
            inventory.consume_reservations,
            inventory.receive_inventory,
            fulfillment.instruct_node,
            fulfillment.cancel_at_node,
        ]


@contextlib.asynccontextmanager
async def dependencies(
    settings: Settings, *, engine: AsyncEngine | None = None, network: Network | None = None
) -> AsyncIterator[Dependencies]:
    own_engine = engine is None
    eng = engine or create_engine(settings.database_url)
    if own_engine:
        await migrate(eng)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        net = network or load_network(settings.network_path)
        if settings.partner_sim_url:
            net = with_simulated_nodes(net, settings.partner_sim_url)
        try:
            yield Dependencies(
                engine=eng,
                network=net,
                policy=load_policy(settings.policy_path),
                http=http,
            )
        finally:
            if own_engine:
                await eng.dispose()


def with_simulated_nodes(network: Network, sim_url: str) -> Network:
    """Nodes with no endpoint of their own are played by the partner simulator."""
    nodes = [
        n
        if n.endpoint
        else n.model_copy(update={"endpoint": f"{sim_url.rstrip('/')}/nodes/{n.id}"})
        for n in network.nodes
    ]
    return network.model_copy(update={"nodes": nodes})


def build_worker(client: Client, task_queue: str, deps: Dependencies, **kwargs: Any) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=deps.activities(),
        **kwargs,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    from dom_workflows.client import connect

    client = await connect(settings)
    async with dependencies(settings) as deps:
        worker = build_worker(client, settings.task_queue, deps)
        log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        async with worker:
            await (stop or asyncio.Event()).wait()
