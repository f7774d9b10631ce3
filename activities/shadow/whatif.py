"""`dom whatif`: recorded orders replayed offline against another policy (and network).

A recorded order is the input snapshot of one routing decision (activities/shadow/snapshot.py):
from the DOM database (`routing_inputs`, with the live plan's outcome as it happened) or from a
JSON-lines file (one snapshot per line; without a recorded outcome the baseline is planned under
the base policy). The replay touches no database and no ledger: every order is planned on the
stock it saw, as if it were the only one, like the shadow plans."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.shadow.compare import Outcome, plan_under
from activities.shadow.report import Comparison
from activities.shadow.snapshot import Static, scenario_of
from dom_workflows.network import Network
from dom_workflows.routing import Policy
from dom_workflows.routing.models import Node, Rates, Sku


class BadOrdersFile(ValueError):
    """An orders file that cannot be replayed (the message names the line)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    order_id: str
    attempt: int
    currency: str
    snapshot: dict[str, Any]
    live: Outcome | None  # the outcome as it happened; None = plan it under the base policy


def static_of(network: Network) -> Static:
    """The network's routing part, validated once (as InventoryActivities does)."""
    return (
        [Node.model_validate(n.model_dump(mode="json")) for n in network.nodes],
        [Sku.model_validate(s.model_dump(mode="json")) for s in network.skus],
        Rates.model_validate(network.rates),
    )


def _live(data: dict[str, Any]) -> Outcome:
    return Outcome(
        cost=Decimal(str(data["cost"])),
        spend=Decimal(str(data.get("spend", data["cost"]))),
        shipments=int(data["shipments"]),
        backordered_units=int(data.get("backordered_units", 0)),
        promise_met=bool(data["promise_met"]),
        nodes=tuple(data["nodes"]),
    )


def read_orders(path: Path) -> list[Recorded]:
    """A JSON-lines file: each line a snapshot ({"order", "stock", "nodes"}) or a record
    {"order_id", "attempt", "currency", "snapshot", "live"?}. Raises BadOrdersFile."""
    out: list[Recorded] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BadOrdersFile(f"cannot read {path}: {e.strerror}") from None
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
            snap = rec.get("snapshot", rec)
            order = snap["order"]
            if not isinstance(order, dict) or not isinstance(snap.get("stock", []), list):
                raise TypeError("order must be an object and stock a list")
            out.append(
                Recorded(
                    order_id=str(rec.get("order_id", order.get("id", f"line-{n}"))),
                    attempt=int(rec.get("attempt", 1)),
                    currency=str(rec.get("currency", "USD")),
                    snapshot={
                        "order": order,
                        "stock": snap.get("stock", []),
                        "nodes": snap.get("nodes", {}),
                    },
                    live=_live(rec["live"]) if rec.get("live") else None,
                )
            )
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise BadOrdersFile(f"{path}:{n}: not a recorded order ({type(e).__name__}: {e})")
    return out


async def recorded_since(engine: AsyncEngine, since: datetime) -> list[Recorded]:
    """The routing decisions recorded since `since`, oldest first."""
    t = schema.routing_inputs
    query = (
        sa.select(t)
        .where(t.c.created_at >= since)
        .order_by(t.c.created_at, t.c.order_id, t.c.route_attempt)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        Recorded(
            order_id=r["order_id"],
            attempt=r["route_attempt"],
            currency=r["currency"],
            snapshot=r["snapshot"],
            live=Outcome(
                cost=Decimal(r["live_cost"]),
                spend=Decimal(r["live_spend"]),
                shipments=r["live_shipments"],
                backordered_units=r["live_backordered_units"],
                promise_met=bool(r["live_promise_met"]),
                nodes=tuple(r["live_nodes"]),
            ),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Replay:
    comparisons: list[Comparison]
    skipped: list[str]  # orders the baseline itself could not plan (or not rebuilt): why


def replay(
    records: list[Recorded],
    static: Static,
    policy: Policy,
    base: Policy,
    name: str,
    jobs: int = 1,
) -> Replay:
    """Each recorded order planned under `policy` against its recorded (or base-policy) plan.
    `jobs` > 1 spreads the orders over that many processes (each order is independent); the
    result is the same, in the same order."""
    if jobs <= 1 or len(records) < 2 * CHUNK:
        return _replay(records, static, policy, base, name)
    chunks = [records[k : k + CHUNK] for k in range(0, len(records), CHUNK)]
    with ProcessPoolExecutor(jobs) as pool:
        parts = list(
            pool.map(
                _replay,
                chunks,
                *zip(*[(static, policy, base, name)] * len(chunks), strict=True),
            )
        )
    return Replay([c for p in parts for c in p.comparisons], [s for p in parts for s in p.skipped])


CHUNK = 500  # orders per task of a parallel replay


def _replay(
    records: list[Recorded], static: Static, policy: Policy, base: Policy, name: str
) -> Replay:
    comparisons: list[Comparison] = []
    skipped: list[str] = []
    for rec in records:
        label = rec.order_id + (f"#{rec.attempt}" if rec.attempt > 1 else "")
        try:
            scenario = scenario_of(rec.snapshot, static, policy)
        except ValueError as e:  # the order no longer validates (pydantic's ValidationError)
            skipped.append(f"{label}: {str(e).splitlines()[0]}")
            continue
        live = rec.live if rec.live is not None else plan_under(scenario, base)
        if isinstance(live, str):
            skipped.append(f"{label}: baseline: {live}")
            continue
        comparisons.append(
            Comparison(label, name, rec.currency, live, plan_under(scenario, policy))
        )
    return Replay(comparisons, skipped)
