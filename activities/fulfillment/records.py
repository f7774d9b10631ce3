"""Who owns a shipment, read from the DOM's own records instead of asking the order workflow.

`reservations` holds one row per (order, shipment, line, node, sku, qty, status), written in the
reserve-and-route transaction, before the node is ever instructed: so any shipment a partner can
legitimately report on is already there. A partial release splits a row without changing the
shipment's total per line, so summing every row of a shipment gives the lines it was sent with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from dom_workflows.partners.models import order_id_of_shipment

res = schema.reservations


@dataclass(frozen=True)
class ShipmentRecord:
    order_id: str
    shipment_id: str
    node: str
    lines: Mapping[str, int]  # line_id -> units the node was asked to ship
    skus: Mapping[str, str]  # line_id -> sku
    statuses: frozenset[str]  # of its reservation rows: reserved | released | consumed

    @property
    def released(self) -> bool:
        """Every unit of it was released: the DOM cancelled or re-routed the whole shipment."""
        return self.statuses == frozenset({"released"})


@dataclass(frozen=True)
class Lookup:
    """The answer to "which shipment is this?": the record, or whether its order is known."""

    record: ShipmentRecord | None
    order_known: bool


async def lookup_shipment(engine: AsyncEngine, shipment_id: str) -> Lookup:
    """One indexed read of the order's reservation rows."""
    try:
        order_id = order_id_of_shipment(shipment_id)
    except ValueError:
        return Lookup(None, False)
    async with engine.connect() as conn:
        rows = list(
            await conn.execute(
                sa.select(res.c.shipment_id, res.c.line_id, res.c.node_id, res.c.sku)
                .add_columns(res.c.qty, res.c.status)
                .where(res.c.order_id == order_id)
                .order_by(res.c.id)
            )
        )
    mine = [r for r in rows if r.shipment_id == shipment_id]
    if not mine:
        return Lookup(None, bool(rows))
    lines: dict[str, int] = {}
    skus: dict[str, str] = {}
    for r in mine:
        lines[r.line_id] = lines.get(r.line_id, 0) + r.qty
        skus[r.line_id] = r.sku
    record = ShipmentRecord(
        order_id=order_id,
        shipment_id=shipment_id,
        node=mine[0].node_id,
        lines=lines,
        skus=skus,
        statuses=frozenset(r.status for r in mine),
    )
    return Lookup(record, True)


async def shipment_record(engine: AsyncEngine, shipment_id: str) -> ShipmentRecord | None:
    """The shipment as routed, or None if the DOM never routed such a shipment."""
    return (await lookup_shipment(engine, shipment_id)).record
