"""Daily node capacity in the ledger: what routing assigned to each node on each of its local days.

`claim` is a conditional increment of the (node, local day) row -- the cap check and the
increment are one statement, so no number of concurrent orders can push a node past its limit
on either database. Every claimed shipment has a `capacity_claims` row, so a cancel or re-route
(`give_back`, called where reservations are released) returns exactly what the shipment took:
its order when none of its units remain, the released units always. Shipped units stay
counted. A node's new local day is a new row, so it starts at zero.

Usage is counted for every node, limited or not, so a limit set mid-day applies to what the
node has already taken today.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.inventory import schema
from activities.inventory.node_settings import NodeSettings, load_node_settings
from dom_workflows.network import Network

usage_t = schema.node_capacity_usage
claims = schema.capacity_claims
res = schema.reservations


@dataclass(frozen=True)
class CapacityState:
    """A node's usage on its local `day` against its limit (None: unlimited)."""

    node: str
    day: str
    orders: int
    units: int
    limit: int | None
    unit: str  # orders | units

    @property
    def used(self) -> int:
        return self.units if self.unit == "units" else self.orders

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def full(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    @property
    def note(self) -> str:
        """How the explanation says it, e.g. "120/120 orders today"."""
        limit = "unlimited" if self.limit is None else str(self.limit)
        return f"{self.used}/{limit} {self.unit} today"


class NodeFull(Exception):
    """Claiming a shipment would take the node past its daily limit; nothing was claimed."""

    def __init__(self, node: str, used: int, limit: int, unit: str, needed: int = 1) -> None:
        self.node, self.used, self.limit, self.unit, self.needed = node, used, limit, unit, needed
        self.note = f"{used}/{limit} {unit} today"
        super().__init__(f"{node} is at capacity: {self.note} (a shipment needs {needed} more)")


def _settings_for(settings: dict[str, NodeSettings], node: str) -> NodeSettings:
    s = settings.get(node)
    if s is None:  # a node without settings: counted on its UTC day, never limited
        return NodeSettings(
            node_id=node, timezone="UTC", cutoff="16:00", handling_days=0, working_days=[]
        )
    return s


async def _ensure_day_row(conn: AsyncConnection, node: str, day: str) -> None:
    """Create the (node, day) row at zero unless it exists; concurrent creators do not clash."""
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(usage_t).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(usage_t).on_conflict_do_nothing()
    else:  # pragma: no cover - the DOM runs on SQLite or PostgreSQL
        raise RuntimeError(f"capacity needs SQLite or PostgreSQL, not {dialect}")
    await conn.execute(stmt.values(node_id=node, day=day, orders=0, units=0))


async def claim(
    conn: AsyncConnection,
    shipments: Iterable[tuple[str, str, int]],
    settings: dict[str, NodeSettings],
    now: datetime,
) -> None:
    """Count each (shipment_id, node_id, units) against its node's local day of `now`, inside
    the caller's transaction. Raises NodeFull when one would exceed its node's limit (the caller
    rolls back, so no shipment of the order is counted). A shipment already claimed is skipped,
    so a retry counts nothing twice."""
    # Nodes in a fixed order: two orders claiming the same nodes lock their rows alike.
    for shipment_id, node, units in sorted(shipments, key=lambda s: (s[1], s[0])):
        done = await conn.execute(
            sa.select(claims.c.shipment_id).where(claims.c.shipment_id == shipment_id)
        )
        if done.first() is not None:
            continue
        s = _settings_for(settings, node)
        day = s.local_day(now)
        await _ensure_day_row(conn, node, day)
        where = [usage_t.c.node_id == node, usage_t.c.day == day]
        if s.capacity_limit is not None:
            # The cap check and the increment are one statement: PostgreSQL re-checks the
            # condition on the newest row after waiting for its lock; SQLite has one writer.
            if s.capacity_unit == "units":
                where.append(usage_t.c.units + units <= s.capacity_limit)
            else:
                where.append(usage_t.c.orders + 1 <= s.capacity_limit)
        bumped = await conn.execute(
            usage_t.update()
            .where(*where)
            .values(orders=usage_t.c.orders + 1, units=usage_t.c.units + units)
        )
        if bumped.rowcount != 1:
            assert s.capacity_limit is not None  # an unlimited increment always matches
            row = (
                await conn.execute(
                    sa.select(usage_t.c.orders, usage_t.c.units).where(
                        usage_t.c.node_id == node, usage_t.c.day == day
                    )
                )
            ).one()
            used = row.units if s.capacity_unit == "units" else row.orders
            needed = units if s.capacity_unit == "units" else 1
            raise NodeFull(node, used, s.capacity_limit, s.capacity_unit, needed)
        await conn.execute(
            claims.insert().values(
                shipment_id=shipment_id, node_id=node, day=day, units=units, created_at=now
            )
        )


async def give_back(conn: AsyncConnection, shipment_id: str, units_released: int) -> None:
    """Return capacity for units of a shipment just released (inside the releasing transaction,
    after the reservation rows changed): the units always, the order when none of the shipment's
    units are reserved or shipped any more. Never below zero; unknown shipments are ignored."""
    if units_released <= 0:
        return
    query = sa.select(claims).where(claims.c.shipment_id == shipment_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    c = (await conn.execute(query)).first()
    if c is None:
        return
    still_held = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(res)
            .where(res.c.shipment_id == shipment_id, res.c.status.in_(("reserved", "consumed")))
        )
    ).scalar_one()
    take = min(c.units, units_released)
    whole = still_held == 0
    order_back = 1 if whole else 0
    await conn.execute(
        usage_t.update()
        .where(usage_t.c.node_id == c.node_id, usage_t.c.day == c.day)
        .values(
            units=sa.case((usage_t.c.units >= take, usage_t.c.units - take), else_=0),
            orders=sa.case(
                (usage_t.c.orders >= order_back, usage_t.c.orders - order_back), else_=0
            ),
        )
    )
    if whole:
        await conn.execute(claims.delete().where(claims.c.shipment_id == shipment_id))
    else:
        await conn.execute(
            claims.update().where(claims.c.shipment_id == shipment_id).values(units=c.units - take)
        )


async def usage(
    conn: AsyncConnection, settings: dict[str, NodeSettings], now: datetime
) -> dict[str, CapacityState]:
    """Each node's usage on its local day of `now` against its limit, by node id."""
    days = {node: s.local_day(now) for node, s in settings.items()}
    counted: dict[tuple[str, str], tuple[int, int]] = {}
    if days:
        rows = await conn.execute(
            sa.select(usage_t).where(usage_t.c.day.in_(sorted(set(days.values()))))
        )
        counted = {(r.node_id, r.day): (r.orders, r.units) for r in rows}
    out: dict[str, CapacityState] = {}
    for node, s in settings.items():
        orders, units = counted.get((node, days[node]), (0, 0))
        out[node] = CapacityState(
            node=node,
            day=days[node],
            orders=orders,
            units=units,
            limit=s.capacity_limit,
            unit=s.capacity_unit,
        )
    return out


def routing_fields(state: CapacityState | None, full_note: str | None = None) -> dict[str, Any]:
    """What the router's Node takes from a node's capacity: a full node is excluded with the
    reason "capacity: 120/120 orders today"; in units mode the units left cap what the node may
    supply. `full_note` (a NodeFull's note, from a claim that lost a race) excludes the node."""
    if full_note is not None:
        return {"capacity_remaining": 0, "capacity_note": full_note, "capacity_units": None}
    if state is None or state.limit is None:
        return {}
    return {
        "capacity_remaining": state.remaining,
        "capacity_note": state.note,
        "capacity_units": state.remaining if state.unit == "units" else None,
        "utilisation": state.used / state.limit if state.limit else 1.0,
    }


class CapacityView(BaseModel):
    """A node's capacity on its local day, as ops read it."""

    day: str  # the node's local date
    limit: int | None  # None: unlimited
    unit: str  # orders | units
    orders: int  # assigned today (counted whatever the unit)
    units: int
    used: int  # in `unit`
    remaining: int | None
    full: bool
    note: str  # "120/120 orders today"


class NodeStatus(BaseModel):
    """A node's live settings and today's usage (GET /v1/nodes, `dom node list|show`)."""

    node_id: str
    name: str
    type: str
    settings: NodeSettings
    capacity: CapacityView


def _view(state: CapacityState) -> CapacityView:
    return CapacityView(
        day=state.day,
        limit=state.limit,
        unit=state.unit,
        orders=state.orders,
        units=state.units,
        used=state.used,
        remaining=state.remaining,
        full=state.full,
        note=state.note,
    )


async def node_status(
    conn: AsyncConnection, now: datetime, network: Network | None = None
) -> list[NodeStatus]:
    """Every node (in the database) with its settings and usage on its local day of `now`."""
    settings = await load_node_settings(conn, network)
    states = await usage(conn, settings, now)
    rows = await conn.execute(
        sa.select(schema.nodes.c.id, schema.nodes.c.name, schema.nodes.c.type).order_by(
            schema.nodes.c.id
        )
    )
    out = []
    for r in rows:
        if r.id not in settings:
            continue
        out.append(
            NodeStatus(
                node_id=r.id,
                name=r.name,
                type=r.type,
                settings=settings[r.id],
                capacity=_view(states[r.id]),
            )
        )
    return out


CapacityViolation = Literal["capacity-mismatch", "stale-capacity-claim"]


async def inconsistencies(conn: AsyncConnection) -> list[tuple[str, str, CapacityViolation]]:
    """(node, what is wrong, kind) for every break of capacity's invariants: per (node, day) the
    usage row counts exactly the claims of that day (orders = claims, units = Σ claim units), and
    every claim's shipment still holds a reserved or shipped unit (a fully released shipment
    gave its claim back). `dom inventory verify` lists them."""
    counted = {
        (r.node_id, r.day): (r.orders, r.units)
        for r in await conn.execute(sa.select(usage_t).order_by(usage_t.c.node_id, usage_t.c.day))
    }
    claimed = {
        (r.node_id, r.day): (int(r.orders), int(r.units))
        for r in await conn.execute(
            sa.select(
                claims.c.node_id,
                claims.c.day,
                sa.func.count().label("orders"),
                sa.func.coalesce(sa.func.sum(claims.c.units), 0).label("units"),
            ).group_by(claims.c.node_id, claims.c.day)
        )
    }
    found: list[tuple[str, str, CapacityViolation]] = []
    for node, day in sorted(set(counted) | set(claimed)):
        usage_says = counted.get((node, day), (0, 0))
        claims_say = claimed.get((node, day), (0, 0))
        if usage_says != claims_say:
            found.append(
                (
                    node,
                    f"{node} on {day}: usage counts {usage_says[0]} order(s) / {usage_says[1]} "
                    f"unit(s), its capacity claims {claims_say[0]} / {claims_say[1]}",
                    "capacity-mismatch",
                )
            )
    holding = (
        sa.select(res.c.shipment_id)
        .where(res.c.status.in_(("reserved", "consumed")))
        .scalar_subquery()
    )
    stale = await conn.execute(
        sa.select(claims.c.shipment_id, claims.c.node_id, claims.c.day)
        .where(claims.c.shipment_id.not_in(holding))
        .order_by(claims.c.shipment_id)
    )
    for r in stale:
        found.append(
            (
                r.node_id,
                f"shipment {r.shipment_id} still counts against {r.node_id}'s capacity on "
                f"{r.day} but holds no reserved or shipped unit",
                "stale-capacity-claim",
            )
        )
    return found
