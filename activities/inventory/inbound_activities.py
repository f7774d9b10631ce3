"""The order's inbound activity: pre-order its backordered units against inbound supply and read
back the dates it shows (activities/inventory/inbound.py does the work)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.inventory import preorders
from dom_workflows.inventory.inbound import AllocateBackorders, BackorderPromise


class InboundActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn
    async def allocate_backorders(self, req: AllocateBackorders) -> list[BackorderPromise]:
        """Converges the order's pre-orders on its backordered units (a retry changes nothing
        more) and returns each backordered unit's inbound and expected date, if any."""
        return await preorders.allocate_backorders(self.engine, req)
