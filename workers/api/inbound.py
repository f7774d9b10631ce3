"""Inbound supply: purchase orders and transfers on their way to a node (ops), and the list of
them (orders:read). Backordered units are pre-ordered against them first come first served; an
arrival reserves those units for their orders and wakes them, a late or cancelled inbound
tells them their new date (activities/inventory/inbound.py, workers/inbound_wake.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from activities.inventory import inbound
from dom_workflows.inventory.inbound import (
    Inbound,
    InboundChange,
    InboundDelay,
    InboundReceive,
    InboundRequest,
)
from workers.api.auth import requires, signed
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_model
from workers.api.partners import SIGNED
from workers.api.security import verified_partner_body
from workers.inbound_wake import Change, after_change

router = APIRouter(tags=["inbound"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 409, 422)
}


class InboundResult(InboundChange):
    """What an inbound operation did; `told`: the orders that were signalled (running ones)."""

    told: list[str] = Field(default_factory=list)


def _body(model: type[Any], required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _refused(e: inbound.InboundRefused) -> Problem:
    return Problem(e.status, e.kind, e.detail)


async def _told(deps: ApiDeps, change: InboundChange, what: Change) -> InboundResult:
    told = await after_change(deps.dom.client, deps.engine, change, what)
    return InboundResult(**change.model_dump(), told=told)


@router.post(
    "/v1/inbound",
    status_code=201,
    response_model=InboundResult,
    responses={200: {"model": InboundResult, "description": "updated or unchanged"}, **PROBLEMS},
    dependencies=[Depends(requires("ops"))],
    openapi_extra=_body(InboundRequest),
)
async def create_inbound(
    request: Request, response: Response, deps: ApiDeps = Depends(get_deps)
) -> InboundResult:
    """Announce a purchase order or transfer expected at a node (idempotent on `id`: the same
    body again changes nothing; a new qty, date or source updates an open one). 201 when
    created, 200 otherwise. Orders pre-ordered against it are told a changed date."""
    req = parse_model(InboundRequest, await request.body(), "the inbound")
    return await _upsert(deps, req, response)


async def _upsert(deps: ApiDeps, req: InboundRequest, response: Response) -> InboundResult:
    try:
        change, created = await inbound.upsert(deps.engine, req)
    except inbound.InboundRefused as e:
        raise _refused(e) from None
    response.status_code = 201 if created else 200
    return await _told(deps, change, "updated")


@router.post(
    "/v1/partners/{partner_id}/inbound",
    status_code=201,
    response_model=InboundResult,
    responses={200: {"model": InboundResult, "description": "updated or unchanged"}, **PROBLEMS},
    dependencies=[signed()],  # the partner's HMAC signature is the credential
    openapi_extra={**SIGNED, **_body(InboundRequest)},
)
async def partner_inbound(
    partner_id: str, request: Request, response: Response, deps: ApiDeps = Depends(get_deps)
) -> InboundResult:
    """A partner's advance shipping notice for the node it operates: the same as
    POST /v1/inbound (idempotent on `id`; a later notice with a new date or quantity updates it),
    signed with X-DOM-Signature instead of an API key."""
    body = await verified_partner_body(request, partner_id, deps.secrets, deps.clock)
    req = parse_model(InboundRequest, body, "the inbound")
    try:
        node = deps.network.node(req.node)
    except KeyError:
        raise Problem(422, "unknown-node", f"node {req.node!r} is not in the network") from None
    if (node.partner_id or node.id) != partner_id:
        raise Problem(
            403, "not-your-node", f"partner {partner_id} does not operate node {req.node}"
        )
    if not req.source:
        req = req.model_copy(update={"source": f"partner {partner_id}"})
    return await _upsert(deps, req, response)


@router.get(
    "/v1/inbound",
    response_model=list[Inbound],
    responses=PROBLEMS,
    dependencies=[Depends(requires("orders:read"))],
)
async def list_inbound(
    sku: str | None = Query(default=None, max_length=64),
    status: Literal["open", "received", "cancelled"] | None = None,
    limit: int = Query(default=200, ge=1, le=1000),
    deps: ApiDeps = Depends(get_deps),
) -> list[Inbound]:
    """Inbound supply, earliest expected first: what is still due and what nobody has
    pre-ordered yet (`available`)."""
    return await inbound.list_inbound(deps.engine, sku=sku, status=status, limit=limit)


@router.get(
    "/v1/inbound/{inbound_id}",
    response_model=Inbound,
    responses=PROBLEMS,
    dependencies=[Depends(requires("orders:read"))],
)
async def get_inbound(inbound_id: str, deps: ApiDeps = Depends(get_deps)) -> Inbound:
    try:
        return await inbound.get_inbound(deps.engine, inbound_id)
    except inbound.InboundRefused as e:
        raise _refused(e) from None


@router.patch(
    "/v1/inbound/{inbound_id}",
    response_model=InboundResult,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
    openapi_extra=_body(InboundDelay),
)
async def delay_inbound(
    inbound_id: str, request: Request, deps: ApiDeps = Depends(get_deps)
) -> InboundResult:
    """A new expected date (late or early); the orders pre-ordered against the inbound show it."""
    req = parse_model(InboundDelay, await request.body(), "the new date")
    try:
        change = await inbound.delay(deps.engine, inbound_id, req.expected_at)
    except inbound.InboundRefused as e:
        raise _refused(e) from None
    return await _told(deps, change, "delayed")


@router.post(
    "/v1/inbound/{inbound_id}/receive",
    response_model=InboundResult,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
    openapi_extra=_body(InboundReceive, required=False),
)
async def receive_inbound(
    inbound_id: str, request: Request, deps: ApiDeps = Depends(get_deps)
) -> InboundResult:
    """The inbound arrived (everything still due, or `qty` of it). on_hand goes up and the
    pre-ordered units become reservations of their orders, first come first served, in one
    transaction; those orders are woken to ship them, and units nobody pre-ordered wake the
    SKU's waiting list. Applied once per `reference` (default: the inbound's id); a repeat
    (applied=false) signals the orders again, so a retried call still wakes them."""
    req = parse_model(InboundReceive, await request.body(), "the receipt", empty_ok=True)
    try:
        change = await inbound.receive(deps.engine, inbound_id, req.qty, req.reference)
    except inbound.InboundRefused as e:
        raise _refused(e) from None
    return await _told(deps, change, "received")


@router.post(
    "/v1/inbound/{inbound_id}/cancel",
    response_model=InboundResult,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def cancel_inbound(inbound_id: str, deps: ApiDeps = Depends(get_deps)) -> InboundResult:
    """What is still due will not come: its pre-orders move to other open inbound of the SKU
    (first come first served, with that inbound's date) or stay backordered without a date;
    the orders show it. A repeat changes nothing."""
    try:
        change = await inbound.cancel(deps.engine, inbound_id)
    except inbound.InboundRefused as e:
        raise _refused(e) from None
    return await _told(deps, change, "cancelled")
