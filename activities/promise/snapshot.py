"""Everything a promise reads before it knows whether its cached plan still holds, in one round
trip: the cart's SKU versions, a version of the node settings and holidays, and each node's
usage on its local day.

Node settings change rarely (ops), so they are kept per process and re-read only when their
version moved; the version is read with every request, so a change made by another process
(the CLI, another API worker) is seen by the next promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.inventory import capacity, node_settings, schema
from activities.inventory.activities import NodeState
from dom_workflows.network import Network

avail = schema.sku_availability
usage_t = schema.node_capacity_usage
ns = schema.node_settings
hol = schema.holidays


@dataclass(frozen=True)
class Snapshot:
    versions: tuple[tuple[str, int], ...]
    nodes: NodeState


def _one_trip() -> sa.CompoundSelect:
    text = sa.String()
    skus: sa.BindParameter[list[str]] = sa.bindparam("skus", expanding=True)
    days: sa.BindParameter[list[str]] = sa.bindparam("days", expanding=True)
    return sa.union_all(
        sa.select(
            sa.literal("v", text).label("kind"),
            avail.c.sku.label("k"),
            sa.literal("", text).label("d"),
            avail.c.version.label("a"),
            sa.literal(0).label("b"),
        ).where(avail.c.sku.in_(skus)),
        sa.select(
            sa.literal("s", text),
            sa.cast(sa.func.max(ns.c.updated_at), text),
            sa.literal("", text),
            sa.func.count(),
            sa.literal(0),
        ).select_from(ns),
        sa.select(
            sa.literal("h", text),
            sa.literal("", text),
            sa.literal("", text),
            sa.func.count(),
            sa.func.coalesce(sa.func.max(hol.c.id), 0),
        ).select_from(hol),
        sa.select(
            sa.literal("u", text),
            usage_t.c.node_id,
            usage_t.c.day,
            usage_t.c.orders,
            usage_t.c.units,
        ).where(usage_t.c.day.in_(days)),
    )


# Built once: constructing this statement costs more than running it.
ONE_TRIP = _one_trip()


class NodeSettingsCache:
    def __init__(self, network: Network) -> None:
        self._network = network
        self._version: Any = None
        self._settings: dict[str, node_settings.NodeSettings] = {}

    async def read(self, conn: AsyncConnection, skus: list[str], now: datetime) -> Snapshot:
        days = sorted({s.local_day(now) for s in self._settings.values()})
        rows = list(await conn.execute(ONE_TRIP, {"skus": skus, "days": days}))
        found = {r.k: r.a for r in rows if r.kind == "v"}
        version = tuple((r.kind, r.k, r.a, r.b) for r in rows if r.kind in ("s", "h"))
        counted = {(r.k, r.d): (r.a, r.b) for r in rows if r.kind == "u"}
        if version != self._version or not self._settings:
            self._settings = await node_settings.load_node_settings(conn, self._network)
            self._version = version
            usage = await capacity.usage(conn, self._settings, now)
        else:
            usage = {}
            for node, s in self._settings.items():
                day = s.local_day(now)
                orders, units = counted.get((node, day), (0, 0))
                usage[node] = capacity.CapacityState(
                    node=node,
                    day=day,
                    orders=orders,
                    units=units,
                    limit=s.capacity_limit,
                    unit=s.capacity_unit,
                )
        return Snapshot(
            versions=tuple((s, found.get(s, 0)) for s in skus),
            nodes=NodeState(self._settings, usage),
        )
