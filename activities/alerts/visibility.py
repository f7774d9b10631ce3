"""What the order rules need from Temporal visibility: the orders themselves live there, not in
the DOM database (an order that was never routed has no row anywhere else)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel
from temporalio.client import Client

from dom_workflows.order.search_attributes import BACKORDERED, ORDER_STATUS

ORDER_WORKFLOW = "OrderWorkflow"
# More stuck orders than this are reported as "at least"; the alert is one per rule anyway.
MAX_LISTED = 50


class StuckOrder(BaseModel):
    workflow_id: str
    started_at: datetime


class OrderVisibility(Protocol):
    async def unrouted(self, started_before: datetime) -> list[StuckOrder]:
        """Running orders still `received` (not routed, not on hold) that started before."""
        ...

    async def started_since(self, since: datetime) -> int:
        """How many orders started at or after `since` (any status)."""
        ...


def _ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class TemporalVisibility:
    """Orders of one task queue: this deployment's (a shared namespace may hold others)."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.scope = f"WorkflowType = '{ORDER_WORKFLOW}' AND TaskQueue = '{task_queue}'"

    async def unrouted(self, started_before: datetime) -> list[StuckOrder]:
        query = (
            f"{self.scope} AND ExecutionStatus = 'Running' "
            f"AND OrderStatus = 'received' AND StartTime < '{_ts(started_before)}'"
        )
        found: list[StuckOrder] = []
        async for wf in self.client.list_workflows(query, limit=MAX_LISTED * 2):
            attrs = wf.typed_search_attributes
            # A fully backordered order waits for stock on purpose; that is not "stuck".
            if attrs.get(BACKORDERED) or attrs.get(ORDER_STATUS) != "received":
                continue
            found.append(StuckOrder(workflow_id=wf.id, started_at=wf.start_time))
            if len(found) >= MAX_LISTED:
                break
        return found

    async def started_since(self, since: datetime) -> int:
        query = f"{self.scope} AND StartTime >= '{_ts(since)}'"
        return (await self.client.count_workflows(query)).count
