"""Holds and payment methods: ops hold and release orders; channels send a new payment method
after a decline. Each is a Temporal Update whose validator's refusal becomes a 409."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from temporalio.service import RPCError, RPCStatusCode

from dom_workflows.order.models import Hold, PaymentSummary, PaymentUpdate, PlaceHold, ReleaseHold
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_model
from workers.api.orders import order_state, own_order
from workers.client import HoldRefused, update_payment_method

router = APIRouter(tags=["holds"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 409, 422)
}


async def _refused(deps: ApiDeps, order_id: str, e: Exception) -> Problem:
    if isinstance(e, HoldRefused):
        return Problem(409, "hold-refused", str(e))
    if isinstance(e, RPCError) and e.status == RPCStatusCode.NOT_FOUND:
        state = await order_state(deps, order_id)  # 404 when there is no such order
        return Problem(409, "hold-refused", f"order {order_id} is already {state.status.value}")
    raise e


@router.post("/v1/orders/{order_id}/holds", response_model=list[Hold], responses=PROBLEMS)
async def place_hold(
    order_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> list[Hold]:
    """Hold an order: it keeps its reservation and sends nothing new to nodes until released."""
    await own_order(deps, key, order_id)
    req = parse_model(PlaceHold, await request.body(), "the hold", empty_ok=True)
    try:
        return await deps.dom.place_hold(order_id, req)
    except (HoldRefused, RPCError) as e:
        raise await _refused(deps, order_id, e) from None


@router.post("/v1/orders/{order_id}/holds/release", response_model=list[Hold], responses=PROBLEMS)
async def release_hold(
    order_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> list[Hold]:
    """Release the order's holds (all, or `kind`); the order goes on where it stopped."""
    await own_order(deps, key, order_id)
    req = parse_model(ReleaseHold, await request.body(), "the release", empty_ok=True)
    try:
        return await deps.dom.release_hold(order_id, req)
    except (HoldRefused, RPCError) as e:
        raise await _refused(deps, order_id, e) from None


@router.post(
    "/v1/orders/{order_id}/payment-method", response_model=PaymentSummary, responses=PROBLEMS
)
async def new_payment_method(
    order_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> PaymentSummary:
    """After a decline: authorize again with a new payment token; 409 if none was declined."""
    await own_order(deps, key, order_id)
    req = parse_model(PaymentUpdate, await request.body(), "the payment method")
    try:
        return await update_payment_method(deps.dom, order_id, req.payment_token)
    except (HoldRefused, RPCError) as e:
        raise await _refused(deps, order_id, e) from None
