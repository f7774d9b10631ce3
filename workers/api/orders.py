"""Orders: submit (idempotent per channel + external id), read, cancel."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.order.activities import check_lines
from dom_workflows.order.models import (
    CancelRequest,
    CancelResult,
    OrderRequest,
    OrderState,
    order_workflow_id,
)
from workers.api import keys
from workers.api.apikeys import ApiKey
from workers.api.auth import check_channel, check_submit_channel, requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_json, validation_problem
from workers.client import CancelRefused, OrderNotFound

router = APIRouter(tags=["orders"])

ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
ORDER_ID_MAX = 120
# A quantity no real order has: refused at the edge rather than sent to routing.
MAX_LINE_QTY = 100_000

PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 409, 422, 503)
}


class Submission(BaseModel):
    order_id: str
    workflow_id: str
    status_url: str
    created: bool  # False: the order already existed and this was a repeat


def derive_order_id(channel: str, external_id: str) -> str:
    """A stable order id for a channel's own order id, e.g. `shopify-820982911946154508`.

    Characters an order id cannot hold would be replaced -- and two external ids could then
    collide -- so such ids (and over-long ones) get a hash instead."""
    plain = f"{channel}-{external_id}"
    if ORDER_ID.fullmatch(plain) and len(plain) <= ORDER_ID_MAX:
        return plain
    digest = hashlib.sha256(plain.encode()).hexdigest()[:32]
    prefix = re.sub(r"[^A-Za-z0-9]", "", channel)[:20] or "order"
    return f"{prefix}-{digest}"


def valid_order_id(order_id: str) -> bool:
    return len(order_id) <= ORDER_ID_MAX and ORDER_ID.fullmatch(order_id) is not None


def precheck(order: OrderRequest) -> None:
    """The cheap checks the workflow would fail on anyway, refused before a workflow exists."""
    problems = check_lines(order)
    problems += [
        f"line {ln.line_id}: quantity {ln.qty} exceeds the limit of {MAX_LINE_QTY}"
        for ln in order.lines
        if ln.qty > MAX_LINE_QTY
    ]
    if problems:
        raise Problem(
            422, "invalid-order", f"order {order.order_id} is invalid: " + "; ".join(problems)
        )


async def submit(deps: ApiDeps, order: OrderRequest) -> tuple[OrderRequest, bool]:
    """Start the order's workflow unless its channel + external id already has one.

    The workflow id (from order_id) is Temporal's idempotency key; the mapping external id ->
    order id makes a resubmission with a different order_id land on the same workflow too."""
    if order.external_id:
        key = keys.make_key("channel-order", order.channel, order.external_id)
        existing = await keys.lookup(deps.engine, key)
        if existing is None and not await keys.remember(
            deps.engine, key, "channel-order", {"order_id": order.order_id}
        ):
            existing = await keys.lookup(deps.engine, key)  # lost a race: use the winner's id
        if existing and existing.get("order_id") and existing["order_id"] != order.order_id:
            order = order.model_copy(update={"order_id": existing["order_id"]})
    try:
        submitted = await deps.dom.submit(order)
    except RPCError as e:
        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise Problem(
                503, "temporal-unavailable", f"could not start the order: {e.message}"
            ) from None
        raise
    return order, submitted.created


def submission(request: Request, response: Response, order_id: str, created: bool) -> Submission:
    url = str(request.url_for("get_order", order_id=order_id))
    response.status_code = 202 if created else 200
    response.headers["Location"] = url
    return Submission(
        order_id=order_id,
        workflow_id=order_workflow_id(order_id),
        status_url=url,
        created=created,
    )


def parse_order(data: Any) -> OrderRequest:
    if not isinstance(data, dict):
        raise Problem(422, "invalid-body", "the body must be a JSON object describing an order")
    data = dict(data)
    if not data.get("order_id"):
        external = data.get("external_id")
        channel = data.get("channel", "web")
        if (
            not isinstance(external, str | int)
            or isinstance(external, bool)
            or not str(external).strip()
        ):
            raise Problem(
                422, "invalid-body", "order_id or external_id is required to identify the order"
            )
        if not isinstance(channel, str) or not channel.strip():
            raise Problem(422, "invalid-body", "channel must be a non-empty string")
        data["external_id"] = str(external)
        data["order_id"] = derive_order_id(channel, str(external))
    try:
        return OrderRequest.model_validate(data)
    except ValidationError as e:
        raise validation_problem(e, "the order") from None


@router.post(
    "/v1/orders",
    status_code=202,
    response_model=Submission,
    responses={200: {"model": Submission, "description": "the order already existed"}, **PROBLEMS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": OrderRequest.model_json_schema()}},
        }
    },
)
async def submit_order(
    request: Request,
    response: Response,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:write")),
) -> Submission:
    """Submit an order. 202 when a workflow was started, 200 when the same order (same
    order_id, or same channel + external_id) already exists. `order_id` may be omitted: it is
    then derived from channel + external_id. Scope `orders:write`; a key bound to a channel
    submits only that channel's orders (403)."""
    order = parse_order(parse_json(await request.body()))
    check_submit_channel(key, order.channel)
    precheck(order)
    order, created = await submit(deps, order)
    return submission(request, response, order.order_id, created)


async def order_state(deps: ApiDeps, order_id: str) -> OrderState:
    if not valid_order_id(order_id):
        raise Problem(
            404, "unknown-order", f"order {order_id[:130]!r} does not exist (not a valid order id)"
        )
    try:
        return await deps.dom.status(order_id)
    except OrderNotFound:
        raise Problem(404, "unknown-order", f"order {order_id} does not exist") from None


async def own_order(deps: ApiDeps, key: ApiKey, order_id: str) -> None:
    """404 unless a channel-bound key's channel placed the order (unbound keys: no check)."""
    if key.channel is not None:
        state = await order_state(deps, order_id)
        check_channel(key, state.channel, order_id)


@router.get("/v1/orders/{order_id}", response_model=OrderState, responses=PROBLEMS)
async def get_order(
    order_id: str,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> OrderState:
    """The order workflow's `state` query: status, lines, shipments, routes, timeline.
    Scope `orders:read`; 404 for another channel's order with a channel-bound key."""
    state = await order_state(deps, order_id)
    check_channel(key, state.channel, order_id)
    return state


@router.post(
    "/v1/orders/{order_id}/cancel",
    response_model=CancelResult,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": CancelRequest.model_json_schema()}},
        }
    },
)
async def cancel_order(
    order_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> CancelResult:
    """Cancel the whole order (empty body or `lines` omitted) or some units of given lines.
    409 with the workflow's reason when it cannot be cancelled as asked. Scope `ops`."""
    await own_order(deps, key, order_id)
    raw = await request.body()
    try:
        req = CancelRequest.model_validate(parse_json(raw)) if raw.strip() else CancelRequest()
    except ValidationError as e:
        raise validation_problem(e, "the cancel request") from None
    if not valid_order_id(order_id):
        await order_state(deps, order_id)  # raises the 404
    try:
        return await deps.dom.cancel(order_id, req)
    except CancelRefused as e:
        detail = str(e)
        if not await deps.dom.is_running(order_id):
            # A closed workflow takes no updates; the order's own status says more than the
            # execution's ("completed" for an order that was cancelled).
            state = await order_state(deps, order_id)
            detail = f"order {order_id} is already {state.status.value}"
        raise Problem(409, "cancel-refused", detail) from None
    except OrderNotFound:
        raise Problem(404, "unknown-order", f"order {order_id} does not exist") from None
    except WorkflowUpdateFailedError as e:
        cause = e.cause.message if e.cause is not None and hasattr(e.cause, "message") else str(e)
        raise Problem(409, "cancel-failed", f"the cancellation failed: {cause}") from None
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        # Either no such order, or its workflow has finished and takes no more updates.
        state = await order_state(deps, order_id)
        raise Problem(
            409, "cancel-refused", f"order {order_id} is already {state.status.value}"
        ) from None
