"""Delivery promises for storefronts: quote a cart, or a product page's availability."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from activities.promise.service import PromiseInvalid, PromiseService
from dom_workflows.config import Settings
from dom_workflows.promise.models import (
    Availability,
    Destination,
    PromiseLine,
    PromiseRequest,
    PromiseResponse,
)
from dom_workflows.routing import load_policy
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, parse_json, validation_problem
from workers.api.orders import PROBLEMS

router = APIRouter(tags=["promise"])

FASTEST_FIRST = ("overnight", "express", "ground")


def promise_service(deps: ApiDeps) -> PromiseService:
    """One service (and so one plan cache) per API process."""
    if deps.promise is None:
        deps.promise = PromiseService(
            deps.engine,
            deps.network,
            load_policy(Settings.from_env().policy_path),
            reader=deps.reader,
        )
    service: PromiseService = deps.promise
    return service


def _no_cache(request: Request) -> bool:
    return "no-cache" in request.headers.get("cache-control", "").lower()


@router.post(
    "/v1/promise",
    response_model=PromiseResponse,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PromiseRequest.model_json_schema()}},
        }
    },
)
async def promise(
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> Response:
    """Quote a cart: per service level, whether it can ship now (fully or partly), the plan
    (nodes, shipments), ship-by (the node's cut-off) and delivery window, cost and explanation.
    Nothing is reserved. `Cache-Control: no-cache` plans afresh instead of using a cached plan
    (a cached plan is reused only while no stock or node state it depends on has moved).
    Scope `orders:read`."""
    data: Any = parse_json(await request.body())
    try:
        req = PromiseRequest.model_validate(data)
    except ValidationError as e:
        raise validation_problem(e, "the promise request") from None
    try:
        answer = await promise_service(deps).quote(req, use_cache=not _no_cache(request))
    except PromiseInvalid as e:
        raise Problem(422, "invalid-promise", str(e)) from None
    # Serialised once here: returning a Response skips FastAPI's second validation of the model.
    return Response(
        answer.model_dump_json(),
        media_type="application/json",
        headers={"X-Promise-Cache": answer.cache},
    )


@router.get("/v1/availability/{sku}", response_model=Availability, responses=PROBLEMS)
async def availability(
    sku: str,
    zip: str | None = Query(default=None, pattern=r"^[0-9]{5}$", description="ship-to ZIP"),
    qty: int = Query(default=1, ge=1, le=10_000),
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> Availability:
    """For a product page: units available to this channel (after its safety buffer), the
    fastest delivery to `zip` and the nearest store with the SKU for pickup. Scope
    `orders:read`."""
    service = promise_service(deps)
    if sku not in deps.network.sku_map():
        raise Problem(404, "unknown-sku", f"SKU {sku[:100]!r} is not in the catalog")
    buffer = deps.network.channel(key.channel or "web").safety_buffer
    now = datetime.now(UTC)
    fastest = None
    if zip is not None:
        offered = set(deps.network.rates.get("services", {}))
        levels = [s for s in FASTEST_FIRST if s in offered]
        try:
            answer = await service.quote(
                PromiseRequest(
                    lines=[PromiseLine(sku=sku, qty=qty)],
                    destination=Destination(zip=zip),
                    service_levels=levels,
                ),
                now,
            )
        except PromiseInvalid as e:
            raise Problem(422, "invalid-promise", str(e)) from None
        dated = [o for o in answer.options if o.fulfillable == "full"]
        fastest = min(dated, key=lambda o: (o.delivery_earliest, o.total_cost.amount), default=None)
    available, pickup = await service.availability(sku, zip, qty, now)
    return Availability(
        sku=sku,
        zip=zip,
        available=max(0, available - buffer),
        fastest=fastest,
        nearest_pickup=pickup,
        as_of=now,
    )
