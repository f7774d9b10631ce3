"""GET /v1/replenishment: per SKU x node sales velocity, days of cover and a suggested reorder
quantity (activities/inventory/replenishment.py). Buyers (orders:read) and ops may read it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError

from activities.inventory.replenishment import (
    ReplenishmentParams,
    ReplenishmentReport,
    replenishment,
)
from workers.api.apikeys import ApiKey, Scope
from workers.api.auth import Requires, authenticate, bearer
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, validation_problem

router = APIRouter(tags=["inventory"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}} for s in (401, 403, 422)
}


class RequiresAny(Requires):
    """An API key with any one of several scopes."""

    def __init__(self, *scopes: Scope) -> None:
        super().__init__(scopes[0])
        self.scopes = scopes

    async def __call__(
        self, request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> ApiKey:
        key = await authenticate(request, creds)
        if not any(key.allows(s) for s in self.scopes):
            raise Problem(
                403,
                "insufficient-scope",
                f"API key {key.name!r} needs one of the scopes {', '.join(self.scopes)} "
                f"(it has: {', '.join(sorted(key.scopes)) or 'none'})",
            )
        return key


OPS_OR_READ = RequiresAny("ops", "orders:read")


@router.get(
    "/v1/replenishment",
    response_model=ReplenishmentReport,
    responses=PROBLEMS,
    dependencies=[Depends(OPS_OR_READ)],
)
async def get_replenishment(
    deps: ApiDeps = Depends(get_deps),
    sku: str | None = Query(default=None, max_length=64),
    node: str | None = Query(default=None, max_length=64),
    lead_days: float = Query(default=7, description="supplier lead time in days"),
    service_level: float = Query(default=0.95, description="e.g. 0.95: z from the normal"),
    window_days: int = Query(default=28, description="days of shipments the demand is read from"),
    cover_days: float = Query(default=14, description="days of demand to have after the lead"),
) -> ReplenishmentReport:
    """Suggestions first (position at or below the reorder point), then by days of cover."""
    try:
        params = ReplenishmentParams(
            sku=sku,
            node=node,
            lead_days=lead_days,
            service_level=service_level,
            window_days=window_days,
            cover_days=cover_days,
        )
    except ValidationError as e:
        raise validation_problem(e, "the replenishment parameters") from None
    return await replenishment(deps.reader or deps.engine, datetime.now(UTC), params)
