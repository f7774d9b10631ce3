"""GET /v1/orders: orders listed from Temporal visibility (search attributes), filtered and
paged with an opaque cursor; no workflow is queried (workers/order_search.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from dom_workflows.order.models import OrderStatus
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, validation_problem
from workers.order_search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    InvalidFilter,
    OrderFilters,
    OrderPage,
    list_orders,
)

router = APIRouter(tags=["orders"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 422, 502, 503)
}


@router.get("/v1/orders", response_model=OrderPage, responses=PROBLEMS)
async def list_orders_route(
    status: list[OrderStatus] | None = Query(None, description="repeat for several statuses"),
    channel: str | None = Query(None, max_length=128, description="SalesChannel"),
    customer: str | None = Query(None, max_length=128, description="CustomerId"),
    node: str | None = Query(None, max_length=128, description="one of FulfillmentNodes"),
    escalated: bool | None = Query(None),
    backordered: bool | None = Query(None),
    created_from: AwareDatetime | None = Query(None, description="StartTime >= (RFC 3339)"),
    created_to: AwareDatetime | None = Query(None, description="StartTime <= (RFC 3339)"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(None, max_length=4096, description="`next_cursor` of a page"),
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> OrderPage:
    """Orders matching every filter given, newest first, from the search attributes alone."""
    if key.channel is not None:
        # A channel-bound key lists only its own channel's orders.
        if channel is not None and channel != key.channel:
            raise Problem(
                403,
                "wrong-channel",
                f"API key {key.name!r} is bound to channel {key.channel!r} and cannot list "
                f"channel {channel!r}",
            )
        channel = key.channel
    try:
        filters = OrderFilters(
            status=status or [],
            channel=channel,
            customer=customer,
            node=node,
            escalated=escalated,
            backordered=backordered,
            created_from=created_from,
            created_to=created_to,
        )
    except ValidationError as e:
        raise validation_problem(e, "the filters") from None
    try:
        return await list_orders(deps.dom.client, filters, limit, cursor)
    except InvalidFilter as e:
        raise Problem(422, "invalid-filter", str(e)) from None
    except RPCError as e:
        if e.status == RPCStatusCode.UNIMPLEMENTED:
            raise Problem(
                503,
                "visibility-unavailable",
                f"this Temporal server cannot list workflows: {e.message}",
            ) from None
        raise
