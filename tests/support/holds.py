"""Cart hold helpers: a contested SKU whose stock is explained by movements (so `verify` holds),
ledger totals, and a routing input for an order checked out from a cart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.activities import InventoryActivities
from dom_workflows.config import Settings
from dom_workflows.inventory.models import (
    OrderToRoute,
    ReserveAndRouteInput,
    SourcingLine,
    ValidatedOrder,
)
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.routing import load_policy
from tests.support.harness import make_order

CONTESTED = "CART-HOT-1"
STOCK = {"wh-reno": 20, "wh-dallas": 20, "wh-columbus": 10}  # 50 units across 3 nodes
NEW_YORK = {"lat": 40.7484, "lon": -73.9967, "state": "NY", "zip": "10118"}

pos = schema.inventory_positions


async def add_sku(engine: AsyncEngine, sku: str = CONTESTED, stock: dict[str, int] = STOCK) -> None:
    """A SKU stocked at these nodes, each position with the receipt movement that explains it."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=sku, name=sku, weight_lb=1.0, price=Decimal("10"), tags=[]
            )
        )
        for node, qty in stock.items():
            await conn.execute(
                pos.insert().values(
                    node_id=node, sku=sku, on_hand=qty, reserved=0, safety_stock=0, updated_at=now
                )
            )
            await conn.execute(
                schema.movements.insert().values(
                    at=now, node_id=node, sku=sku, kind="receipt", on_hand_delta=qty
                )
            )


async def totals(engine: AsyncEngine, sku: str = CONTESTED) -> dict[str, int]:
    """on_hand, reserved, held of the SKU over the network, and the units of active holds'
    lines and of `reserved` reservation rows (the rows that must explain the positions)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(
                    sa.func.sum(pos.c.on_hand), sa.func.sum(pos.c.reserved), sa.func.sum(pos.c.held)
                ).where(pos.c.sku == sku)
            )
        ).one()
        over = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    pos.c.sku == sku, pos.c.reserved + pos.c.held > pos.c.on_hand
                )
            )
        ).scalar_one()
        lines = schema.cart_hold_lines
        in_holds = (
            await conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(lines.c.qty), 0))
                .join(schema.cart_holds, schema.cart_holds.c.cart_id == lines.c.cart_id)
                .where(lines.c.sku == sku, schema.cart_holds.c.status == "active")
            )
        ).scalar_one()
        res = schema.reservations
        in_rows = (
            await conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(res.c.qty), 0)).where(
                    res.c.sku == sku, res.c.status == "reserved"
                )
            )
        ).scalar_one()
    return {
        "on_hand": int(row[0] or 0),
        "reserved": int(row[1] or 0),
        "held": int(row[2] or 0),
        "over_committed_positions": int(over),
        "in_active_holds": int(in_holds),
        "in_reservation_rows": int(in_rows),
    }


def with_sku(network: Network, sku: str = CONTESTED) -> Network:
    """The network with `sku` in its catalog too (the router plans only catalog SKUs)."""
    if sku in network.sku_map():
        return network
    extra = network.skus[0].model_copy(update={"sku": sku})
    return network.model_copy(update={"skus": [*network.skus, extra]})


def inventory(engine: AsyncEngine, network: Network) -> InventoryActivities:
    return InventoryActivities(engine, with_sku(network), load_policy(Settings().policy_path))


def cart_order(
    order_id: str,
    lines: list[tuple[str, int]],
    cart_id: str | None,
    *,
    channel: str = "web",
    attempt: int = 1,
) -> ReserveAndRouteInput:
    """reserve_and_route's input for an order to New York checked out from `cart_id`."""
    order = make_order(lines, order_id=order_id).model_copy(
        update={"cart_id": cart_id, "channel": channel}
    )
    return ReserveAndRouteInput(
        order=OrderToRoute.of(order),
        destination=ValidatedOrder(
            ship_to_lat=NEW_YORK["lat"],
            ship_to_lon=NEW_YORK["lon"],
            ship_to_state="NY",
            ship_to_zip="10118",
            order_value=Money(amount=Decimal("50.00")),
        ),
        attempt=attempt,
        lines=[
            SourcingLine(line_id=str(i), sku=sku, qty=qty, unit_price=Decimal("50.00"))
            for i, (sku, qty) in enumerate(lines, 1)
        ],
        weekday="wed",
    )
