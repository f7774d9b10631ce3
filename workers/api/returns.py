"""Returns (RMAs): open one for a delivered order, read it, and the return node's signed
`return.received` webhook.

Opening is synchronous: the API answers only after the ReturnWorkflow has validated the request
against the order (delivered units, units already on other RMAs, the return window) -- 202 with
the RMA, or 404 / 409 / 422 with the workflow's reason.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from dom_workflows.returns import logic
from dom_workflows.returns.models import (
    INVALID_RETURN,
    UNKNOWN_ORDER,
    ReturnReceipt,
    ReturnRequest,
    ReturnState,
    ReturnStatus,
)
from workers.api import keys
from workers.api.apikeys import ApiKey
from workers.api.auth import check_channel, requires, signed
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, parse_model
from workers.api.orders import PROBLEMS, order_state, valid_order_id
from workers.api.partners import SIGNED
from workers.api.security import verified_partner_body
from workers.client import ReturnClosed, ReturnNotFound, ReturnRefused

log = logging.getLogger("dom.api.returns")
router = APIRouter(tags=["returns"])

RMA_ID = re.compile(r"^RMA-[A-Za-z0-9][A-Za-z0-9._:-]*-[0-9]+$")


class ReturnOpened(BaseModel):
    rma_id: str
    workflow_id: str
    status_url: str
    status: ReturnStatus
    return_node: str | None = None
    deadline: str | None = None


class ReturnEventReceipt(BaseModel):
    event_id: str
    rma_id: str
    status: Literal["applied", "duplicate"]


@router.post(
    "/v1/orders/{order_id}/returns",
    status_code=202,
    response_model=ReturnOpened,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReturnRequest.model_json_schema()}},
        }
    },
)
async def open_return(
    order_id: str,
    request: Request,
    response: Response,
    deps: ApiDeps = Depends(get_deps),
    caller: ApiKey = Depends(requires("ops")),
) -> ReturnOpened:
    """Open an RMA for delivered units of an order. 202 with the RMA once the workflow has
    validated it; 404 unknown order; 422 unknown line or invalid body; 409 nothing delivered,
    more units than are still returnable, or the return window has closed."""
    req = parse_model(ReturnRequest, await request.body(), "the return request")
    if not valid_order_id(order_id):
        raise Problem(404, "unknown-order", f"order {order_id[:130]!r} does not exist")
    order = await order_state(deps, order_id)  # 404 before any workflow is started
    check_channel(caller, order.channel, order_id)
    # A channel that retries after a lost answer sends the same Idempotency-Key: it gets the
    # RMA the first request opened, never a second one.
    idem = request.headers.get("Idempotency-Key")
    key = keys.make_key("return", order_id, idem) if idem else None
    if key is not None and not await keys.remember(deps.engine, key, "return", {}):
        earlier = await keys.lookup(deps.engine, key) or {}
        if "rma_id" not in earlier:
            raise Problem(
                409,
                "request-in-progress",
                f"a return with Idempotency-Key {idem!r} is still being opened",
            )
        st = await return_state(deps, earlier["rma_id"])
        response.status_code = 200
        return _opened(request, response, earlier["rma_id"], earlier["workflow_id"], st)
    try:
        created = await deps.dom.create_return(order_id, req)
    except (ReturnRefused, TimeoutError) as e:
        if key is not None:
            await keys.settle(deps.engine, key, None)
        if isinstance(e, TimeoutError):
            raise Problem(503, "return-not-validated", str(e)) from None
        status, kind = {
            UNKNOWN_ORDER: (404, "unknown-order"),
            INVALID_RETURN: (422, "invalid-return"),
        }.get(e.kind, (409, "return-refused"))
        raise Problem(status, kind, str(e)) from None
    if key is not None:
        await keys.settle(
            deps.engine, key, {"rma_id": created.rma_id, "workflow_id": created.workflow_id}
        )
    return _opened(request, response, created.rma_id, created.workflow_id, created.state)


def _opened(
    request: Request, response: Response, rma_id: str, workflow_id: str, st: ReturnState
) -> ReturnOpened:
    url = str(request.url_for("get_return", rma_id=rma_id))
    response.headers["Location"] = url
    return ReturnOpened(
        rma_id=rma_id,
        workflow_id=workflow_id,
        status_url=url,
        status=st.status,
        return_node=st.return_node,
        deadline=st.deadline.isoformat() if st.deadline else None,
    )


async def return_state(deps: ApiDeps, rma_id: str) -> ReturnState:
    if len(rma_id) > 200 or not RMA_ID.fullmatch(rma_id):
        raise Problem(404, "unknown-return", f"return {rma_id[:130]!r} does not exist")
    try:
        return await deps.dom.return_status(rma_id)
    except ReturnNotFound:
        raise Problem(404, "unknown-return", f"return {rma_id} does not exist") from None


@router.get("/v1/returns/{rma_id}", response_model=ReturnState, responses=PROBLEMS)
async def get_return(
    rma_id: str,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> ReturnState:
    """The ReturnWorkflow's `state` query: lines and grades, label, refunds, timeline.
    Scope `orders:read`; a channel-bound key sees only returns of its channel's orders."""
    state = await return_state(deps, rma_id)
    if key.channel is not None:
        order = await order_state(deps, state.order_id)
        if order.channel != key.channel:
            raise Problem(404, "unknown-return", f"return {rma_id} does not exist")
    return state


@router.post(
    "/v1/partners/{partner_id}/returns",
    status_code=202,
    response_model=ReturnEventReceipt,
    responses={200: {"model": ReturnEventReceipt, "description": "already handled"}, **PROBLEMS},
    dependencies=[signed()],  # the return node's HMAC signature is the credential
    openapi_extra={
        **SIGNED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReturnReceipt.model_json_schema()}},
        },
    },
)
async def return_received(
    partner_id: str, request: Request, response: Response, deps: ApiDeps = Depends(get_deps)
) -> ReturnEventReceipt:
    """`return.received`: the return node got an RMA's parcel and graded each unit
    (resell | refurbish | scrap). Signed like every partner webhook. 202 applied; 200 when this
    event id was handled before; 401 bad signature; 404 unknown RMA; 403 not the RMA's return
    node; 422 bad body or lines that are not on the RMA; 409 the RMA has already ended."""
    body = await verified_partner_body(request, partner_id, deps.secrets, deps.clock)
    event = parse_model(ReturnReceipt, body, "the return event")
    key = keys.make_key("return-event", partner_id, event.event_id)
    if await keys.lookup(deps.engine, key) is not None:
        response.status_code = 200
        return ReturnEventReceipt(event_id=event.event_id, rma_id=event.rma_id, status="duplicate")
    state = await return_state(deps, event.rma_id)
    node = state.return_node
    owner = None
    if node is not None:
        try:
            owner = deps.network.node(node).partner_id or node
        except KeyError:
            owner = node
    if owner != partner_id:
        raise Problem(
            403,
            "not-your-return",
            f"{event.rma_id} is returned to {node or 'no node (it was never opened)'}, "
            f"which partner {partner_id} does not operate",
        )
    problems = logic.receipt_problems(state.lines, event)
    if problems:
        raise Problem(422, "lines-mismatch", "; ".join(problems))
    if state.status != ReturnStatus.OPEN:
        raise Problem(
            409,
            "return-closed",
            f"{event.rma_id} is already {state.status.value}; the event was not applied",
        )
    try:
        await deps.dom.report_return_received(event.rma_id, event)
    except (ReturnClosed, ReturnNotFound) as e:
        raise Problem(409, "return-closed", f"{e}; the event was not applied") from None
    # Remembered after the signal landed; a concurrent duplicate is deduped by the workflow.
    await keys.remember(deps.engine, key, "return-event", {"rma_id": event.rma_id})
    log.info("%s: return.received %s for %s", partner_id, event.event_id, event.rma_id)
    return ReturnEventReceipt(event_id=event.event_id, rma_id=event.rma_id, status="applied")
