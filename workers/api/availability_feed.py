"""GET /v1/availability/changes: the network ATP change feed, for storefronts that must learn
fast when a SKU sells out or comes back.

Each change carries the SKU's network-wide ATP after it and `available`, what the calling key's
channel may sell: ATP less the channel's safety buffer (`Network.channels`), never below 0; a
key bound to no channel gets the full ATP. Clients page with `since` = the `next` of the last
answer (0 the first time); the ledger side is activities/inventory/availability.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from activities.inventory import availability
from dom_workflows.network import Network
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc

router = APIRouter(tags=["inventory"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (400, 401, 403, 422)
}
DEFAULT_LIMIT = 100


class AvailabilityChange(BaseModel):
    seq: int
    sku: str
    # Network-wide available-to-promise after the change.
    atp: int
    # What the caller's channel may sell: max(0, atp - the channel's safety buffer).
    available: int
    at: datetime
    # The ledger movement that changed it (reserve, release, receipt, consume, adjust, ...).
    cause: str


class AvailabilityChanges(BaseModel):
    changes: list[AvailabilityChange]
    # Pass as `since` next time (equals `since` when nothing new happened).
    next: int


def buffer_for(network: Network, channel: str | None) -> int:
    return 0 if channel is None else network.channel(channel).safety_buffer


def as_changes(rows: list[availability.Change], since: int, buffer: int) -> AvailabilityChanges:
    return AvailabilityChanges(
        changes=[
            AvailabilityChange(
                seq=c.seq,
                sku=c.sku,
                atp=c.atp,
                available=availability.available(c.atp, buffer),
                at=c.at,
                cause=c.cause,
            )
            for c in rows
        ],
        next=rows[-1].seq if rows else since,
    )


@router.get("/v1/availability/changes", response_model=AvailabilityChanges, responses=PROBLEMS)
async def availability_changes(
    since: int = Query(0, ge=0, le=2**31 - 1, description="`next` of the previous answer"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=availability.MAX_PAGE),
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> AvailabilityChanges:
    """ATP changes after `since`, oldest first: `{changes: [{seq, sku, atp, available, at,
    cause}], next}`. A `since` beyond the newest change is 400 (a cursor from another database)."""
    head = await availability.sequence(deps.engine)
    if since > head:
        raise Problem(
            400,
            "bad-cursor",
            f"since={since} is past the newest change ({head}); start again from 0",
        )
    rows = await availability.read_changes(deps.engine, since, limit)
    return as_changes(rows, since, buffer_for(deps.network, key.channel))
