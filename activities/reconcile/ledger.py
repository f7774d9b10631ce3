"""The ledger's side of reconciliation: the invariants `dom inventory verify` checks, as findings,
and the one ledger repair -- releasing what a closed order still holds.

A closed order (a row in order_closures) never needs a reservation again: nothing of it can ship.
Its leftover `reserved` rows (a lost rejection, a close that raced a late event) are released in
one transaction that first re-checks the closure, with the ledger's own conditional release
(only rows still `reserved`, each with its movement and its capacity given back) under a key
derived from the rows, so a second run releases nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from activities.inventory.verify import verify
from dom_workflows.inventory.models import ReleaseInput, ReleaseResult
from dom_workflows.reconcile.models import Finding, Repair

res = schema.reservations
closures = schema.order_closures


async def ledger_findings(engine: AsyncEngine) -> list[Finding]:
    found: list[Finding] = []
    orphans = await _closed_orders_holding(engine)
    for v in await verify(engine):
        if v.kind == "closed-order-holds-reserved" and v.order_id in orphans:
            continue  # reported below, with its rows and its repair
        subject = v.order_id or f"{v.node}/{v.sku}"
        found.append(
            Finding(
                kind="ledger-violation",
                subject=f"{v.kind}:{subject}",
                order_id=v.order_id,
                summary=v.detail,
                evidence={"violation": v.kind, "node": v.node, "sku": v.sku},
            )
        )
    for order_id, (status, rows) in sorted(orphans.items()):
        ids = sorted(r["reservation_id"] for r in rows)
        digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
        units = sum(int(r["qty"]) for r in rows)
        found.append(
            Finding(
                kind="orphan-reservation",
                subject=order_id,
                order_id=order_id,
                summary=f"order {order_id} was closed ({status}) but still holds {units} "
                f"unit(s) reserved in {len(rows)} row(s)",
                evidence={"closure_status": status, "rows": rows},
                repair=Repair(
                    kind="release-reservations",
                    idempotency_key=f"reconcile:release:{order_id}:{digest}",
                    order_id=order_id,
                ),
            )
        )
    return found


async def _closed_orders_holding(
    engine: AsyncEngine,
) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                res.c.id,
                res.c.order_id,
                res.c.shipment_id,
                res.c.line_id,
                res.c.node_id,
                res.c.sku,
                res.c.qty,
                closures.c.status,
            )
            .join(closures, closures.c.order_id == res.c.order_id)
            .where(res.c.status == "reserved")
            .order_by(res.c.order_id, res.c.id)
        )
        out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for r in rows:
            entry = out.setdefault(r.order_id, (r.status, []))
            entry[1].append(
                {
                    "reservation_id": r.id,
                    "shipment_id": r.shipment_id,
                    "line_id": r.line_id,
                    "node": r.node_id,
                    "sku": r.sku,
                    "qty": r.qty,
                }
            )
        return out


async def release_closed_order(engine: AsyncEngine, order_id: str, key: str) -> ReleaseResult:
    """Release every unit a closed order still holds; nothing if it is not closed (then it is
    the order's own to release) or this key was applied before."""
    inp = ReleaseInput(
        order_id=order_id,
        reason="reconciliation: the order is closed and can never ship these units",
        idempotency_key=key,
    )
    try:
        async with engine.begin() as conn:
            if not await ledger.is_closed(conn, order_id):
                return ReleaseResult(released_units=0)
            if not await ledger.claim_key(conn, key, "reconcile-release"):
                return ReleaseResult.model_validate(await ledger.stored_result(conn, key))
            # The ledger's own release (conditional on each row still being `reserved`), in
            # this transaction, so the closure checked above still holds when it runs.
            result = await ledger._release_in(conn, inp)
            await conn.execute(
                schema.applied_keys.update()
                .where(schema.applied_keys.c.key == key)
                .values(result=result.model_dump(mode="json"))
            )
            return result
    except IntegrityError:
        async with engine.connect() as conn:
            return ReleaseResult.model_validate(await ledger.stored_result(conn, key))
