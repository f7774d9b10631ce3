"""GET /v1/kpis: the fulfilment KPIs from the decision and outcome records, as `dom kpis` shows
them (activities/insight/kpis.py computes both; definitions in docs/kpis.md). Needs `ops`: the
figures cover every channel, which a channel-bound key must not see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from activities.insight.kpis import KpiReport, report
from dom_workflows.insight.window import BadSince, parse_since
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc

router = APIRouter(tags=["kpis"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}} for s in (401, 403, 422)
}


@router.get(
    "/v1/kpis",
    response_model=KpiReport,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def get_kpis(
    since: str | None = Query(
        default=None,
        max_length=40,
        description="Orders received since: a duration (90m, 24h, 7d, 2w), a date "
        "(2026-11-01) or an ISO time. Default: 30d.",
    ),
    by: Literal["node", "channel", "day", "sku"] | None = Query(
        default=None, description="Group the KPIs; omitted: one row for everything."
    ),
    deps: ApiDeps = Depends(get_deps),
) -> KpiReport:
    """Orders, split rate, shipments per order, cost per order, on-time ship and delivery,
    rejection rate, SLA breaches, backorder, cancellation and return rates, gross margin after
    fulfilment cost and routing savings against the distance baseline; `total` has one row per
    currency over every group."""
    now = datetime.fromtimestamp(deps.clock(), UTC)
    try:
        start = parse_since(since, now)
    except BadSince as e:
        raise Problem(422, "invalid-since", str(e).replace("--since", "since")) from None
    return await report(deps.engine, start, now, by)
