"""Cart holds: a storefront keeps a cart's units out of ATP while the shopper checks out.

The hold belongs to the API key's channel (`web` for a key bound to none); a key bound to a
channel sees only that channel's carts (404 otherwise, as for orders). How long a hold lasts is
the channel's `cart_hold_minutes` (examples/network.json), which is also the most a request may
ask for. An order submitted with `cart_id` turns the hold into its reservation, exactly once.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from activities.inventory import holds
from dom_workflows.carts.models import (
    CART_ID_MAX,
    CART_ID_PATTERN,
    CartHold,
    ExtendRequest,
    HoldRequest,
)
from dom_workflows.config import Settings
from dom_workflows.routing import load_policy
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_model

router = APIRouter(tags=["carts"])
CART_ID = re.compile(CART_ID_PATTERN)
DEFAULT_CHANNEL = "web"
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 409, 422)
}


@functools.cache
def _policy(path: Path) -> Any:
    return load_policy(path)


def _now(deps: ApiDeps) -> datetime:
    return datetime.fromtimestamp(deps.clock(), UTC)


def _channel(key: ApiKey) -> str:
    return key.channel or DEFAULT_CHANNEL


def _valid(cart_id: str) -> bool:
    return len(cart_id) <= CART_ID_MAX and CART_ID.fullmatch(cart_id) is not None


def _minutes(deps: ApiDeps, channel: str, asked: int | None) -> int:
    most = deps.network.channel(channel).cart_hold_minutes
    if asked is None:
        return most
    if asked > most:
        raise Problem(
            422,
            "invalid-cart",
            f"a hold of channel {channel!r} lasts at most {most} minutes, not {asked}",
        )
    return asked


def _problem(e: holds.HoldError) -> Problem:
    return Problem(e.status, e.kind, e.detail)


async def _own_hold(deps: ApiDeps, key: ApiKey, cart_id: str) -> CartHold:
    """The cart's hold, or 404 (no such cart, or another channel's with a channel-bound key)."""
    hold = await holds.get_hold(deps.engine, cart_id) if _valid(cart_id) else None
    if hold is None or (key.channel is not None and key.channel != hold.channel):
        raise Problem(404, "unknown-cart", f"cart {cart_id[:130]!r} has no hold")
    return hold


@router.post(
    "/v1/carts/{cart_id}/hold",
    status_code=201,
    response_model=CartHold,
    responses={200: {"model": CartHold, "description": "the same hold, refreshed"}, **PROBLEMS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": HoldRequest.model_json_schema()}},
        }
    },
)
async def hold_cart(
    cart_id: str,
    request: Request,
    response: Response,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:write")),
) -> CartHold:
    """Hold the cart's units for the channel's `cart_hold_minutes` (or `minutes`, at most that):
    they leave ATP for everyone else. All or nothing: 409 naming the SKUs short, unless
    `allow_partial` (then `short` lists what was not held). 201 when the hold was made (or
    replaced: other lines than the active hold's are swapped in one transaction); 200 when the
    same lines were already held (the hold is refreshed). Scope `orders:write`."""
    if not _valid(cart_id):
        raise Problem(
            422,
            "invalid-cart",
            f"cart id {cart_id[:130]!r} must match {CART_ID_PATTERN} (at most {CART_ID_MAX})",
        )
    req = parse_model(HoldRequest, await request.body(), "the hold")
    channel = _channel(key)
    minutes = _minutes(deps, channel, req.minutes)
    try:
        hold, created = await holds.place_hold(
            deps.engine,
            cart_id,
            channel,
            req.lines,
            req.destination,
            minutes,
            _now(deps),
            network=deps.network,
            policy=_policy(Settings.from_env().policy_path),
            allow_partial=req.allow_partial,
        )
    except holds.HoldError as e:
        raise _problem(e) from None
    response.status_code = 201 if created else 200
    return hold


@router.post(
    "/v1/carts/{cart_id}/hold/extend",
    response_model=CartHold,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": ExtendRequest.model_json_schema()}},
        }
    },
)
async def extend_cart_hold(
    cart_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:write")),
) -> CartHold:
    """The hold now ends `minutes` (default and most: the channel's `cart_hold_minutes`) from
    now, never earlier than it did. 409 if it has ended (expired, released, converted)."""
    hold = await _own_hold(deps, key, cart_id)
    req = parse_model(ExtendRequest, await request.body(), "the extension", empty_ok=True)
    minutes = _minutes(deps, hold.channel, req.minutes)
    try:
        return await holds.extend_hold(deps.engine, cart_id, minutes, _now(deps))
    except holds.HoldError as e:
        raise _problem(e) from None


@router.delete("/v1/carts/{cart_id}/hold", response_model=CartHold, responses=PROBLEMS)
async def release_cart_hold(
    cart_id: str,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:write")),
) -> CartHold:
    """Give the cart's units back to ATP. Idempotent (an ended hold is returned as it is); 409
    if the cart already became an order."""
    await _own_hold(deps, key, cart_id)
    try:
        return await holds.release_hold(deps.engine, cart_id, _now(deps))
    except holds.HoldError as e:
        raise _problem(e) from None


@router.get("/v1/carts/{cart_id}/hold", response_model=CartHold, responses=PROBLEMS)
async def get_cart_hold(
    cart_id: str,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("orders:read")),
) -> CartHold:
    """The cart's hold: status (active, released, expired, converted), expiry, lines by node. An
    active hold past `expires_at` still holds its units until the sweep (every
    DOM_HOLD_SWEEP_SECONDS, default 15 s) expires it."""
    return await _own_hold(deps, key, cart_id)
