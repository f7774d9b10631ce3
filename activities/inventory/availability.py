"""Per-SKU availability bookkeeping, done inside the transaction that moved the stock.

`touch` bumps the SKU's version (any position change: the promise cache's key) and, when the
network-wide ATP moved, appends one row to the change feed that storefronts poll or receive.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.inventory import schema
from activities.inventory.db import utcnow

pos = schema.inventory_positions
avail = schema.sku_availability


def atp_expression() -> sa.ColumnElement[int]:
    """Per position: on_hand - reserved - held - safety_stock, floored at 0."""
    raw = pos.c.on_hand - pos.c.reserved - pos.c.held - pos.c.safety_stock
    return sa.case((raw > 0, raw), else_=0)


async def touch(conn: AsyncConnection, skus: Iterable[str], cause: str) -> None:
    """Record that these SKUs' positions changed in the caller's transaction."""
    now = utcnow()
    for sku in sorted(set(skus)):
        atp = (
            await conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(atp_expression()), 0)).where(
                    pos.c.sku == sku
                )
            )
        ).scalar_one()
        # The UPDATE takes the row lock first, so concurrent transactions publish in order.
        bumped = await conn.execute(
            avail.update()
            .where(avail.c.sku == sku)
            .values(version=avail.c.version + 1, updated_at=now)
            .returning(avail.c.atp)
        )
        previous = bumped.scalar_one_or_none()
        if previous is None:
            await conn.execute(avail.insert().values(sku=sku, version=1, atp=atp, updated_at=now))
        elif previous != atp:
            await conn.execute(avail.update().where(avail.c.sku == sku).values(atp=atp))
        if previous != atp:
            await conn.execute(
                schema.availability_changes.insert().values(
                    sku=sku, atp=int(atp), at=now, cause=cause[:32]
                )
            )


async def versions(conn: AsyncConnection, skus: Iterable[str]) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(avail.c.sku, avail.c.version).where(avail.c.sku.in_(sorted(set(skus))))
    )
    return {r.sku: r.version for r in rows}
