"""Who may call which route: secure by default.

`create_app` installs `enforce` as an app-wide dependency, so it runs before every route's own
dependencies and handler. Each route declares its access with exactly one of

* `Depends(requires("orders:read"))` (as a parameter, to get the `ApiKey`, or in the route's or
  router's `dependencies=[...]`): a valid `Authorization: Bearer dom_<id>_<secret>` key with
  that scope;
* `signed()`: a partner or channel webhook, whose credential is its HMAC signature, checked by
  the handler over the raw body before anything is read or changed;
* `anonymous()`: no credential (only `/healthz`).

A route that declares nothing is refused: 401 without a valid key, 403 with one. A missing,
malformed, unknown or revoked key is 401; a valid key without the route's scope, or bound to
another channel, is 403 (reads of another channel's order are 404, see `check_channel`).
Refusals happen before the body is read, so nothing changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workers.api.apikeys import ApiKey, Scope
from workers.api.errors import Problem

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="`Authorization: Bearer dom_<id>_<secret>` (create one with `dom apikey create`).",
)


class Access:
    """The marker every route's declaration carries; `enforce` looks for one."""

    kind: str = ""


class Requires(Access):
    kind = "key"

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> ApiKey:
        key = await authenticate(request, creds)
        if not key.allows(self.scope):
            raise Problem(
                403,
                "insufficient-scope",
                f"API key {key.name!r} lacks the {self.scope!r} scope this route needs "
                f"(it has: {', '.join(sorted(key.scopes)) or 'none'})",
            )
        return key


class _Marker(Access):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def __call__(self) -> None:
        return None


_ANONYMOUS = _Marker("anonymous")
_SIGNED = _Marker("signed")
_REQUIRES: dict[str, Requires] = {}


def requires(scope: Scope) -> Requires:
    """The dependency for a route that needs an API key with `scope` (one instance per scope,
    so FastAPI runs it once per request however often it is declared)."""
    if scope not in _REQUIRES:
        _REQUIRES[scope] = Requires(scope)
    return _REQUIRES[scope]


def anonymous() -> Any:
    return Depends(_ANONYMOUS)


def signed() -> Any:
    return Depends(_SIGNED)


async def authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> ApiKey:
    cached = getattr(request.state, "api_key", None)
    if isinstance(cached, ApiKey):
        return cached
    if creds is None or not creds.credentials:
        raise Problem(
            401,
            "unauthenticated",
            "this route needs an API key: send `Authorization: Bearer <key>` "
            "(create one with `dom apikey create`)",
        )
    deps = request.app.state.deps
    key = await deps.api_keys.verify(deps.engine, creds.credentials)
    if key is None:
        raise Problem(401, "bad-api-key", "the API key is malformed, unknown or revoked")
    request.state.api_key = key
    return key


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of the app, those of included routers too (as `enforce` sees them)."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            found.append(ctx.original_route)
    return found


def undeclared_routes(app: FastAPI) -> list[str]:
    """`METHOD /path` of every route that declares no access (they refuse everyone)."""
    return [
        f"{','.join(sorted(r.methods or ()))} {r.path}"
        for r in api_routes(app)
        if not declared_access(r)
    ]


def declared_access(route: APIRoute) -> list[Access]:
    found: list[Access] = []
    for d in route.dependant.dependencies:
        if isinstance(d.call, Access):
            found.append(d.call)
    return found


async def enforce(request: Request) -> None:
    """App-wide: a route that declares no access refuses everyone (401, or 403 with a key)."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and declared_access(route):
        return
    await authenticate(request, await bearer(request))
    raise Problem(
        403,
        "route-not-declared",
        f"{request.method} {request.url.path} declares no scope; it is refused until it does",
    )


def check_channel(key: ApiKey, channel: str, order_id: str) -> None:
    """A key bound to a channel sees only that channel's orders: anything else is 404, exactly
    what an order that does not exist answers, so a key learns nothing about other channels."""
    if key.channel is not None and key.channel != channel:
        raise Problem(404, "unknown-order", f"order {order_id} does not exist")


def check_submit_channel(key: ApiKey, channel: str) -> None:
    """A key bound to a channel submits only that channel's orders (403: the caller chose it)."""
    if key.channel is not None and key.channel != channel:
        raise Problem(
            403,
            "wrong-channel",
            f"API key {key.name!r} is bound to channel {key.channel!r} and cannot submit "
            f"an order for channel {channel!r}",
        )
