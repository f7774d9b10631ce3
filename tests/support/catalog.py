"""A SKU added to the catalog that no node stocks: every unit ordered of it is backordered."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from dom_workflows.network import Network, SkuConfig

UNSTOCKED_SKU = "KAYAK-SEAT"


async def with_unstocked_sku(
    engine: AsyncEngine, network: Network, sku: str = UNSTOCKED_SKU
) -> Network:
    """Add `sku` to the ledger's catalog and return the network that knows it too."""
    async with engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=sku, name="Kayak seat", weight_lb=2.0, price=Decimal("60"), tags=[]
            )
        )
    item = SkuConfig(sku=sku, name="Kayak seat", weight_lb=2.0, price=Decimal("60"))
    return network.model_copy(update={"skus": [*network.skus, item]})
