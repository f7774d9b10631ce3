"""Available-to-promise per node and in total, straight from the ledger."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends

from activities.inventory import inbound, schema
from dom_workflows.inventory.models import AtpView
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem
from workers.api.orders import PROBLEMS

router = APIRouter(tags=["inventory"])


@router.get(
    "/v1/inventory/{sku}",
    response_model=AtpView,
    responses=PROBLEMS,
    dependencies=[Depends(requires("orders:read"))],
)
async def get_inventory(sku: str, deps: ApiDeps = Depends(get_deps)) -> AtpView:
    """ATP = on_hand - reserved - held - safety_stock (held: units in shopping carts), for every
    node that stocks the SKU."""
    async with deps.engine.connect() as conn:
        known = await conn.execute(sa.select(schema.skus.c.sku).where(schema.skus.c.sku == sku))
        if known.first() is None:
            raise Problem(404, "unknown-sku", f"SKU {sku[:100]!r} is not in the catalog")
    return await inbound.atp_view(deps.engine, sku)  # with the units on their way, by date
