"""Alerts for ops: the open ones and their history, and the rules (data: a change applies at the
next evaluation, no restart). Scope `ops`."""

from __future__ import annotations

from typing import Any, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from activities.alerts import store
from dom_workflows.alerts.models import Alert
from dom_workflows.alerts.rules import RULE, RULE_ID_PATTERN, RULE_KINDS, AlertRule
from workers.api.apikeys import ApiKey
from workers.api.auth import requires
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, ProblemDoc, parse_json, validation_problem

router = APIRouter(tags=["alerts"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    s: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for s in (401, 403, 404, 422)
}
# The body is one of the rule kinds the response schemas already put in components/schemas.
RULE_SCHEMA = {
    "oneOf": [{"$ref": f"#/components/schemas/{m.__name__}"} for m in get_args(RULE_KINDS)],
    "discriminator": {
        "propertyName": "kind",
        "mapping": {
            m.model_fields["kind"].default: f"#/components/schemas/{m.__name__}"
            for m in get_args(RULE_KINDS)
        },
    },
}


@router.get(
    "/v1/alerts",
    response_model=list[Alert],
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def list_alerts(
    deps: ApiDeps = Depends(get_deps),
    status: Literal["open", "resolved"] | None = Query(
        default=None, description="open, resolved (the history), or both when omitted"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[Alert]:
    """Alerts, newest first: rule, subject, summary, evidence, when opened, last seen, resolved."""
    return await store.list_alerts(deps.engine, status, limit)


@router.get(
    "/v1/alerts/rules",
    response_model=list[AlertRule],
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def list_rules(deps: ApiDeps = Depends(get_deps)) -> list[AlertRule]:
    """Every alert rule (the defaults are seeded into an empty table)."""
    return await store.load_rules(deps.engine)


@router.put(
    "/v1/alerts/rules/{rule_id}",
    response_model=AlertRule,
    responses=PROBLEMS,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": RULE_SCHEMA}}}
    },
)
async def put_rule(
    rule_id: str,
    request: Request,
    deps: ApiDeps = Depends(get_deps),
    key: ApiKey = Depends(requires("ops")),
) -> AlertRule:
    """Create or replace a rule (the body is the whole rule; its `id` must match the path).
    422 names every field that is wrong; nothing changes then."""
    data = parse_json(await request.body())
    if isinstance(data, dict):
        data.setdefault("id", rule_id)
    try:
        rule = RULE.validate_python(data)
    except ValidationError as e:
        raise validation_problem(e, "the alert rule") from None
    if rule.id != rule_id:
        raise Problem(422, "id-mismatch", f"the body's id {rule.id!r} is not {rule_id!r}")
    await store.put_rule(deps.engine, rule, f"apikey:{key.name}")
    return rule


@router.delete(
    "/v1/alerts/rules/{rule_id}",
    status_code=204,
    responses=PROBLEMS,
    dependencies=[Depends(requires("ops"))],
)
async def delete_rule(rule_id: str, deps: ApiDeps = Depends(get_deps)) -> None:
    """Remove a rule; its open alerts resolve at the next evaluation. (To pause a rule, PUT it
    with `"enabled": false`.)"""
    try:
        await store.delete_rule(deps.engine, rule_id)
    except store.UnknownRule:
        raise Problem(
            404, "unknown-rule", f"no alert rule {rule_id[:64]!r} (ids match {RULE_ID_PATTERN})"
        ) from None
