"""The sweep's activity: expire every cart hold past its expiry (see holds.expire_holds)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.inventory import holds
from activities.inventory.db import utcnow
from dom_workflows.carts.models import SweepResult


class CartHoldActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn
    async def expire_cart_holds(self) -> SweepResult:
        """Idempotent: each hold ends once (status guard), so a retry only finishes the job.
        The activity's clock, not the workflow's: expiry is about the wall clock of the DB rows."""
        result = await holds.expire_holds(self.engine, utcnow())
        if result.expired_holds:
            activity.logger.info(
                "expired %d cart hold(s), %d unit(s) back in ATP",
                result.expired_holds,
                result.released_units,
            )
        return result
