"""The returns driver: an order harness plus a DomClient, to deliver an order and follow an
RMA, and the settings that make the simulator the payment provider and carrier."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowExecutionStatus

from activities.inventory import schema
from dom_workflows.config import Settings
from dom_workflows.order.models import OrderRequest, OrderState, ShipmentStatus
from dom_workflows.returns.models import ReturnResult, ReturnState
from tests.support.harness import OrderHarness
from tests.support.sim import LiveSim
from tests.support.until import until
from workers.client import DomClient


@dataclass
class Returns:
    h: OrderHarness
    dom: DomClient
    engine: AsyncEngine

    async def deliver(self, order: OrderRequest) -> OrderState:
        """Run an order to the customer's door: every shipment shipped, captured (with payments)
        and delivered.

        Waits by query, never by `result()`: awaiting a result unlocks the time-skipping server,
        which, once idle, may jump years ahead -- and a return window is judged in that time."""
        handle = await self.h.start(order)
        state = await self.h.instructed(handle)
        for sh in state.shipments:
            await self.h.event(handle, sh.shipment_id, "shipped", carrier="UPS", tracking="1Z")
            await self.h.event(handle, sh.shipment_id, "delivered")
        final = await self.h.until(
            handle,
            lambda s: (
                bool(s.shipments)
                and all(
                    sh.status == ShipmentStatus.DELIVERED
                    and (
                        s.payment is None
                        or s.payment.status == "paid_at_channel"  # the DOM captures nothing
                        or sh.capture_id is not None
                    )
                    for sh in s.shipments
                )
            ),
            "every shipment delivered",
        )
        now = await self.h.env.get_current_time()
        assert all(
            sh.delivered_at and now - sh.delivered_at < timedelta(days=1) for sh in final.shipments
        ), (now, [(e.at.isoformat(), e.kind, e.message) for e in final.timeline])
        return final

    async def until(
        self, rma_id: str, check: Callable[[ReturnState], bool], what: str
    ) -> ReturnState:
        return await until(
            lambda: self.dom.return_status(rma_id),
            check,
            what,
            describe=lambda s: s.model_dump_json(indent=1),
        )

    async def result(self, rma_id: str, skip: timedelta | None = None) -> ReturnResult:
        """The RMA's result, after skipping `skip` of workflow time (e.g. past the window).

        The time-skipping environment only skips by itself for handles its own start_workflow
        returned; RMAs are started inside DomClient, so time is skipped explicitly here."""
        if skip:
            await self.h.env.sleep(skip)
        handle = self.dom.return_handle(rma_id)
        for _ in range(200):
            desc = await handle.describe()
            if desc.status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{rma_id} still running: {await self.dom.return_status(rma_id)}")
        result: ReturnResult = await self.dom.client.get_workflow_handle(
            desc.id, run_id=desc.run_id, result_type=ReturnResult
        ).result()
        return result

    async def position(self, node: str, sku: str) -> tuple[int, int]:
        pos = schema.inventory_positions
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(pos.c.on_hand, pos.c.reserved).where(
                        pos.c.node_id == node, pos.c.sku == sku
                    )
                )
            ).one()
            return row.on_hand, row.reserved

    async def movements(self, reference: str) -> list[Any]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(schema.movements).where(schema.movements.c.reference == reference)
            )
            return list(rows)


def partner_settings(sim: LiveSim) -> Settings:
    return Settings(payment_url=f"{sim.url}/payments", carrier_url=f"{sim.url}/carrier")
