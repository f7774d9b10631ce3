"""The activities the ReconciliationWorkflow runs: find the divergences, then settle them
(repair or escalate, and record the run). Both are safe to retry: finding only reads, and every
repair is idempotent (partner keys derived from the finding, signals deduplicated by event id,
the ledger release keyed by the rows it releases)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client

from activities.inventory.db import utcnow
from activities.reconcile.reconciler import Reconciler
from dom_workflows.network import Network
from dom_workflows.reconcile.models import Divergences, FindInput, ReconcileReport, SettleInput


class ReconcileActivities:
    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler

    @activity.defn
    async def find_divergences(self, inp: FindInput) -> Divergences:
        return await self.reconciler.find(inp)

    @activity.defn
    async def settle_divergences(self, inp: SettleInput) -> ReconcileReport:
        return await self.reconciler.settle(inp, utcnow())


def reconcile_activities(
    client: Client,
    engine: AsyncEngine,
    network: Network,
    http: httpx.AsyncClient,
    *,
    payment_url: str | None,
    carrier_url: str | None,
) -> list[Any]:
    """For the worker: what it needs is what its other activities already have."""
    acts = ReconcileActivities(
        Reconciler(client, engine, network, http, payment_url=payment_url, carrier_url=carrier_url)
    )
    return [acts.find_divergences, acts.settle_divergences]
