"""The order harness: a real worker (real activities, a real ledger) on a Temporal test
environment, sample orders, and fault-injecting activity sets."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from dom_workflows.common.models import Address, Customer
from dom_workflows.config import Settings
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.order.models import (
    OrderLine,
    OrderRequest,
    OrderState,
    ShipmentEvent,
    order_workflow_id,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.until import until
from workers.worker import Dependencies, build_worker, dependencies


def make_order(
    lines: list[tuple[str, int]],
    *,
    zip_code: str = "10118",
    tier: str = "standard",
    order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        order_id=order_id or f"T-{uuid.uuid4().hex[:8]}",
        channel="web",
        customer=Customer(id="C-1", tier=tier),
        lines=[
            OrderLine(
                line_id=str(i + 1),
                sku=sku,
                qty=qty,
                unit_price=Money(amount=Decimal("50.00"), currency="USD"),
            )
            for i, (sku, qty) in enumerate(lines)
        ],
        ship_to=Address(name="T", line1="1 Main St", city="New York", zip=zip_code),
    )


@dataclass
class OrderHarness:
    client: Client
    task_queue: str
    engine: AsyncEngine
    env: WorkflowEnvironment

    async def start(self, order: OrderRequest) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order_workflow_id(order.order_id),
            task_queue=self.task_queue,
        )

    async def state(self, handle: WorkflowHandle[Any, Any]) -> OrderState:
        return await handle.query(OrderWorkflow.state)

    async def until(
        self, handle: WorkflowHandle[Any, Any], check: Callable[[OrderState], bool], what: str
    ) -> OrderState:
        """Poll the query until `check` holds (bounded: fails with the last state)."""
        return await until(
            lambda: self.state(handle),
            check,
            what,
            describe=lambda s: s.model_dump_json(indent=1),
        )

    async def instructed(self, handle: WorkflowHandle[Any, Any], count: int = 1) -> OrderState:
        return await self.until(
            handle,
            lambda s: sum(1 for e in s.timeline if e.kind == "instructed") >= count,
            f"{count} instructed shipments",
        )

    async def event(
        self,
        handle: WorkflowHandle[Any, Any],
        shipment_id: str,
        type_: str,
        event_id: str | None = None,
        **kw: Any,
    ) -> None:
        await handle.signal(
            OrderWorkflow.shipment_event,
            ShipmentEvent(
                event_id=event_id or f"{shipment_id}:{type_}",
                shipment_id=shipment_id,
                type=type_,
                **kw,
            ),
        )


HarnessFactory = Callable[..., Awaitable[OrderHarness]]


@contextlib.asynccontextmanager
async def order_harness(
    env: WorkflowEnvironment,
    engine: AsyncEngine,
    network: Network,
    task_queue: str,
    settings: Settings | None = None,
) -> AsyncIterator[OrderHarness]:
    """A real worker for `network` (tests pass variants: other policies, extra SKUs, partner
    URLs pointing at the simulator)."""
    async with (
        dependencies(settings or Settings(), engine=engine, network=network) as deps,
        build_worker(env.client, task_queue, deps),
    ):
        yield OrderHarness(env.client, task_queue, engine, env)


def replace_activity(deps: Dependencies, name: str, fn: Any) -> list[Any]:
    """The real activity set with one activity swapped for a fault-injecting double."""
    return [
        fn if getattr(a, "__temporal_activity_definition").name == name else a
        for a in deps.activities()
    ]
