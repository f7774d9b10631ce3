"""Live node settings and daily capacity, and the holiday calendar: ops read and change them here
(or with `dom node` / `dom holiday`); the next routing and promise use the change, no restart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from activities.inventory import capacity, node_settings
from activities.inventory.capacity import NodeStatus
from activities.inventory.node_settings import (
    Holiday,
    InvalidSettings,
    NodeSettingsChange,
    UnknownNode,
)
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_model

router = APIRouter(tags=["nodes"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 422)
}
NODE_QUERY = Query(
    default=None,
    max_length=64,
    description="The node the holiday applies to; omitted: the whole network and the carriers.",
)


def _now(deps: ApiDeps) -> datetime:
    return datetime.fromtimestamp(deps.clock(), UTC)


def _who(key: ApiKey) -> str:
    return f"apikey:{key.name}"


async def _status(deps: ApiDeps, node_id: str) -> NodeStatus:
    async with deps.engine.connect() as conn:
        found = [s for s in await capacity.node_status(conn, _now(deps)) if s.node_id == node_id]
    if not found:
        raise Problem(404, "unknown-node", f"node {node_id[:100]!r} is not in the network")
    return found[0]


@router.get(
    "/v1/nodes",
    response_model=list[NodeStatus],
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def list_nodes(deps: ApiDeps = Depends(get_deps)) -> list[NodeStatus]:
    """Every node's live settings (calendar, capacity limit) and its usage on its local day."""
    async with deps.engine.connect() as conn:
        return await capacity.node_status(conn, _now(deps))


@router.get(
    "/v1/nodes/{node_id}",
    response_model=NodeStatus,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def get_node(node_id: str, deps: ApiDeps = Depends(get_deps)) -> NodeStatus:
    """One node's live settings and today's usage (its local day); 404 for an unknown node."""
    return await _status(deps, node_id)


@router.patch(
    "/v1/nodes/{node_id}",
    response_model=NodeStatus,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": NodeSettingsChange.model_json_schema()}},
        }
    },
)
async def change_node(
    node_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> NodeStatus:
    """Change a node's timezone, cutoff (HH:MM), handling_days, working_days or capacity
    (`{"limit": 120, "unit": "orders"}`, or null for unlimited); fields left out stay. Records
    who and when. 404 unknown node; 422 a bad value (nothing changes)."""
    change = parse_model(NodeSettingsChange, await request.body(), "the node settings")
    if not change.model_fields_set:
        raise Problem(
            422,
            "nothing-to-change",
            "name at least one of timezone, cutoff, handling_days, working_days, capacity",
        )
    try:
        await node_settings.update_node_settings(deps.engine, node_id, change, _who(key))
    except UnknownNode as e:
        raise Problem(404, "unknown-node", str(e)) from None
    except InvalidSettings as e:
        raise Problem(422, "invalid-settings", str(e)) from None
    return await _status(deps, node_id)


class HolidayName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200, examples=["Thanksgiving"])


class HolidayResult(BaseModel):
    holiday: Holiday
    created: bool  # False: the day was already a holiday (renamed)


@router.get(
    "/v1/holidays",
    response_model=list[Holiday],
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def list_holidays(
    deps: ApiDeps = Depends(get_deps), node: str | None = NODE_QUERY
) -> list[Holiday]:
    """Every holiday, or those that apply to `node` (network-wide ones and its own)."""
    async with deps.engine.connect() as conn:
        return await node_settings.list_holidays(conn, node)


@router.put(
    "/v1/holidays/{day}",
    response_model=HolidayResult,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": HolidayName.model_json_schema()}},
        }
    },
)
async def put_holiday(
    day: date,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
    node: str | None = NODE_QUERY,
) -> HolidayResult:
    """Make `day` (YYYY-MM-DD) a holiday: network-wide, or for `?node=` only. A repeat renames
    it. Promises skip it from the next request on. 404 unknown node."""
    body = parse_model(HolidayName, await request.body(), "the holiday", empty_ok=True)
    try:
        holiday, created = await node_settings.add_holiday(
            deps.engine, day, node, body.name, _who(key)
        )
    except UnknownNode as e:
        raise Problem(404, "unknown-node", str(e)) from None
    except InvalidSettings as e:
        raise Problem(422, "invalid-settings", str(e)) from None
    return HolidayResult(holiday=holiday, created=created)


@router.delete(
    "/v1/holidays/{day}",
    status_code=204,
    responses=PROBLEMS,
)
async def delete_holiday(
    day: date,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
    node: str | None = NODE_QUERY,
) -> None:
    """Remove the holiday (network-wide, or `?node=`'s own); 404 when there is none."""
    if not await node_settings.remove_holiday(deps.engine, day, node, _who(key)):
        where = f"node {node[:64]!r}" if node else "the whole network"
        raise Problem(404, "unknown-holiday", f"{day.isoformat()} is not a holiday of {where}")
