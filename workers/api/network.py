"""The versioned network over HTTP: read the active version and its history, apply a new one
(`PUT /v1/network`, `?dry_run=true` for the diff only), roll back, change a node's lifecycle,
and see which version, policy and scopes an order was routed with. Every change is a new
version recorded with the API key's name; routing uses it from the next attempt, no restart."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from activities.network import store
from activities.network.store import (
    ApplyResult,
    OrderScopes,
    StoredVersion,
    VersionInfo,
    decisions_of,
)
from dom_workflows.network_versions.document import NetworkDocument, NodeState
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_json, parse_model

router = APIRouter(tags=["network"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 409, 422)
}


def _who(key: ApiKey) -> str:
    return f"apikey:{key.name}"


async def _apply(work: Any) -> ApplyResult:
    try:
        result: ApplyResult = await work
    except store.InvalidDocument as e:
        raise Problem(422, "invalid-network", str(e)) from None
    except store.VersionConflict as e:
        raise Problem(409, "version-conflict", str(e)) from None
    except store.UnknownVersion as e:
        raise Problem(404, "unknown-version", str(e)) from None
    except LookupError as e:
        raise Problem(404, "unknown-node", str(e)) from None
    return result


@router.get(
    "/v1/network",
    response_model=StoredVersion,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def active_network(deps: ApiDeps = Depends(get_deps)) -> StoredVersion:
    """The active version with its whole document; 404 before the first version exists."""
    async with deps.engine.connect() as conn:
        found = await store.get(conn)
    if found is None:
        raise Problem(404, "no-network-version", "no network version yet (a worker seeds one)")
    return found


@router.put(
    "/v1/network",
    response_model=ApplyResult,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NetworkDocument.model_json_schema()}},
        }
    },
)
async def apply_network(
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
    dry_run: bool = Query(default=False, description="Only validate and show the diff."),
    comment: str = Query(default="", max_length=500),
) -> ApplyResult:
    """Validate a whole document (network, policy, node_states, node_scopes, rule_scopes,
    policy_variants), diff it against the active version and activate it as a new version.
    422 with every reason for a bad document (nothing changes)."""
    data = parse_json(await request.body())
    return await _apply(store.apply(deps.engine, data, _who(key), comment, dry_run=dry_run))


@router.get(
    "/v1/network/versions",
    response_model=list[VersionInfo],
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def network_history(
    deps: ApiDeps = Depends(get_deps), limit: int = Query(default=50, ge=1, le=1000)
) -> list[VersionInfo]:
    """Every version, newest (the active one) first: who, when, why."""
    async with deps.engine.connect() as conn:
        return await store.history(conn, limit)


@router.get(
    "/v1/network/versions/{version}",
    response_model=StoredVersion,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def network_version(version: int, deps: ApiDeps = Depends(get_deps)) -> StoredVersion:
    async with deps.engine.connect() as conn:
        try:
            found = await store.get(conn, version)
        except store.UnknownVersion as e:
            raise Problem(404, "unknown-version", str(e)) from None
    assert found is not None
    return found


@router.post(
    "/v1/network/versions/{version}/rollback",
    response_model=ApplyResult,
    responses=PROBLEMS,
)
async def rollback_network(
    version: int,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> ApplyResult:
    """A new version equal to `version`; 404 for a version that never existed."""
    return await _apply(store.rollback(deps.engine, version, _who(key)))


class NodeLifecycle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: NodeState = Field(examples=["draining"])
    comment: str = Field(default="", max_length=500)


@router.put(
    "/v1/nodes/{node_id}/lifecycle",
    response_model=ApplyResult,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NodeLifecycle.model_json_schema()}},
        }
    },
)
async def node_lifecycle(
    node_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> ApplyResult:
    """Enable (`active`), drain (finish what it has, take nothing new) or disable a node: a new
    version with that one change. Open requests at the node are left as they are."""
    body = parse_model(NodeLifecycle, await request.body(), "the node lifecycle")
    return await _apply(
        store.set_node_state(deps.engine, node_id, body.state, _who(key), body.comment)
    )


@router.get(
    "/v1/network/orders/{order_id}",
    response_model=list[OrderScopes],
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def order_scopes(order_id: str, deps: ApiDeps = Depends(get_deps)) -> list[OrderScopes]:
    """Each routing attempt of the order: the network and policy version it used and the scopes
    it fell into. 404 for an order never routed."""
    rows = await decisions_of(deps.engine, order_id)
    if not rows:
        raise Problem(404, "unknown-order", f"no routing decision for order {order_id[:120]!r}")
    return rows
