"""The ledger's invariants, checked: what `dom inventory verify` lists.

In the database alone (`verify`):
- a closed order (a row in order_closures) holds no reservation in `reserved`;
- per position: on_hand >= 0, reserved >= 0, reserved = Σ qty of its `reserved` reservation rows,
  on_hand = Σ on_hand_delta of its movements (the network seed writes a `receipt` movement for the
  starting stock, so a seeded position is explained by its movements like any other);
- per position: held = Σ qty of the lines of active cart holds, and on_hand >= reserved + held
  (units promised to orders and carts are on hand);
- daily capacity: per (node, local day) the usage counts exactly its claims, and every claim's
  shipment still holds a reserved or shipped unit (`capacity.inconsistencies`);
- inbound supply: each inbound's `allocated` is the sum of its pre-orders still coming, and no
  closed order still pre-orders inbound units (`preorders.inconsistencies`).

Against Temporal (`verify_workflows`): every order holding `reserved` rows has a running workflow
`order-<id>`; one that is closed (or gone) will never release them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.inventory import capacity, preorders, schema
from activities.inventory.holds import held_by_position
from dom_workflows.order.models import order_workflow_id

pos = schema.inventory_positions
res = schema.reservations
mov = schema.movements
closures = schema.order_closures

ViolationKind = Literal[
    "closed-order-holds-reserved",
    "workflow-closed-holds-reserved",
    "negative-on-hand",
    "negative-reserved",
    "reserved-mismatch",
    "on-hand-mismatch",
    "held-mismatch",
    "over-committed",
    "capacity-mismatch",
    "stale-capacity-claim",
    "inbound-allocated-mismatch",
    "closed-order-preorders",
]


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    detail: str  # plain language, for people
    order_id: str | None = None
    node: str | None = None
    sku: str | None = None


async def verify(engine: AsyncEngine) -> list[Violation]:
    """Every violation of the ledger's invariants the database alone can show."""
    found: list[Violation] = []
    async with engine.connect() as conn:
        held = await conn.execute(
            sa.select(
                res.c.order_id,
                closures.c.status,
                sa.func.count().label("rows"),
                sa.func.sum(res.c.qty).label("units"),
            )
            .join(closures, closures.c.order_id == res.c.order_id)
            .where(res.c.status == "reserved")
            .group_by(res.c.order_id, closures.c.status)
            .order_by(res.c.order_id)
        )
        for r in held:
            found.append(
                Violation(
                    "closed-order-holds-reserved",
                    f"order {r.order_id} was closed ({r.status}) but still holds {r.units} "
                    f"unit(s) in {r.rows} reserved reservation row(s)",
                    order_id=r.order_id,
                )
            )
        reserved_rows = {
            (r.node_id, r.sku): int(r.units)
            for r in await conn.execute(
                sa.select(res.c.node_id, res.c.sku, sa.func.sum(res.c.qty).label("units"))
                .where(res.c.status == "reserved")
                .group_by(res.c.node_id, res.c.sku)
            )
        }
        moved = {
            (r.node_id, r.sku): int(r.delta)
            for r in await conn.execute(
                sa.select(
                    mov.c.node_id, mov.c.sku, sa.func.sum(mov.c.on_hand_delta).label("delta")
                ).group_by(mov.c.node_id, mov.c.sku)
            )
        }
        in_carts = await held_by_position(conn)
        for node, detail, kind in await capacity.inconsistencies(conn):
            found.append(Violation(kind, detail, node=node))
        for sku, what, problem in await preorders.inconsistencies(conn):
            found.append(Violation(problem, what, sku=sku))
        positions = list(
            await conn.execute(
                sa.select(
                    pos.c.node_id, pos.c.sku, pos.c.on_hand, pos.c.reserved, pos.c.held
                ).order_by(pos.c.node_id, pos.c.sku)
            )
        )
    seen: set[tuple[str, str]] = set()
    for p in positions:
        key = (p.node_id, p.sku)
        seen.add(key)
        where = f"{p.sku} at {p.node_id}"
        if p.on_hand < 0:
            found.append(
                Violation("negative-on-hand", f"{where}: on hand is {p.on_hand}", None, *key)
            )
        if p.reserved < 0:
            found.append(
                Violation("negative-reserved", f"{where}: reserved is {p.reserved}", None, *key)
            )
        rows = reserved_rows.get(key, 0)
        if p.reserved != rows:
            found.append(
                Violation(
                    "reserved-mismatch",
                    f"{where}: the position says {p.reserved} reserved, its reservation rows "
                    f"in `reserved` hold {rows}",
                    None,
                    *key,
                )
            )
        carts = in_carts.get(key, 0)
        if p.held != carts:
            found.append(
                Violation(
                    "held-mismatch",
                    f"{where}: the position says {p.held} held, the active cart holds' lines "
                    f"hold {carts}",
                    None,
                    *key,
                )
            )
        if p.on_hand < p.reserved + p.held:
            found.append(
                Violation(
                    "over-committed",
                    f"{where}: {p.on_hand} on hand but {p.reserved} reserved and {p.held} held",
                    None,
                    *key,
                )
            )
        delta = moved.get(key, 0)
        if p.on_hand != delta:
            found.append(
                Violation(
                    "on-hand-mismatch",
                    f"{where}: the position says {p.on_hand} on hand, its movements add up "
                    f"to {delta}",
                    None,
                    *key,
                )
            )
    for key in sorted(set(reserved_rows) - seen):
        found.append(
            Violation(
                "reserved-mismatch",
                f"{key[1]} at {key[0]}: {reserved_rows[key]} unit(s) reserved by reservation "
                "rows, but there is no such position",
                None,
                *key,
            )
        )
    for key in sorted(set(in_carts) - seen):
        found.append(
            Violation(
                "held-mismatch",
                f"{key[1]} at {key[0]}: {in_carts[key]} unit(s) held by cart holds, but there is "
                "no such position",
                None,
                *key,
            )
        )
    for key in sorted(k for k in set(moved) - seen if moved[k] != 0):
        found.append(
            Violation(
                "on-hand-mismatch",
                f"{key[1]} at {key[0]}: movements add up to {moved[key]} on hand, but there is "
                "no such position",
                None,
                *key,
            )
        )
    return found


async def orders_holding_reserved(engine: AsyncEngine, limit: int) -> tuple[list[str], bool]:
    """Order ids holding `reserved` rows (at most `limit`, oldest first) and whether more exist."""
    async with engine.connect() as conn:
        ids = list(
            (
                await conn.execute(
                    sa.select(res.c.order_id)
                    .where(res.c.status == "reserved")
                    .group_by(res.c.order_id)
                    .order_by(sa.func.min(res.c.id))
                    .limit(limit + 1)
                )
            ).scalars()
        )
    return ids[:limit], len(ids) > limit


async def verify_workflows(
    engine: AsyncEngine, client: Client, *, limit: int = 500, concurrency: int = 10
) -> tuple[list[Violation], bool]:
    """Orders holding `reserved` rows whose workflow is closed or gone. Checks at most `limit`
    orders (describe calls, `concurrency` at a time); the flag says whether some were left out."""
    ids, truncated = await orders_holding_reserved(engine, limit)
    gate = asyncio.Semaphore(concurrency)

    async def one(order_id: str) -> Violation | None:
        wf = order_workflow_id(order_id)
        async with gate:
            try:
                desc = await client.get_workflow_handle(wf).describe()
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:
                    raise
                return Violation(
                    "workflow-closed-holds-reserved",
                    f"order {order_id} holds reserved units but Temporal has no workflow {wf} "
                    "(never started, or closed and past retention)",
                    order_id=order_id,
                )
        if desc.status == WorkflowExecutionStatus.RUNNING:
            return None
        status = desc.status.name.lower() if desc.status is not None else "unknown"
        closed = f" at {desc.close_time:%Y-%m-%d %H:%M:%S %Z}" if desc.close_time else ""
        return Violation(
            "workflow-closed-holds-reserved",
            f"order {order_id} holds reserved units but its workflow {wf} is {status}{closed}",
            order_id=order_id,
        )

    results = await asyncio.gather(*(one(i) for i in ids))
    return [v for v in results if v is not None], truncated
