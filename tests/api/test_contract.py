"""The served OpenAPI document is a contract that validates, and the app keeps it: every
reference resolves (openapi-spec-validator), and schemathesis drives every operation with
generated requests, asserting no 5xx and answers that match their documented status codes,
content types and schemas. Bounded and deterministic: few examples per operation, fixed seed."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import Api

MAX_EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _document(api: Api) -> dict[str, Any]:
    r = await api.http.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


async def test_the_served_document_validates_and_every_ref_resolves(api: Api) -> None:
    doc = await _document(api)
    validate(doc)
    refs = set(re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(doc)))
    schemas = doc["components"]["schemas"]
    assert refs and all(
        r.startswith("#/components/schemas/") and r.rsplit("/", 1)[1] in schemas for r in refs
    ), sorted(refs)
    assert "$defs" not in json.dumps(doc)
    health = doc["paths"]["/healthz"]["get"]["responses"]
    assert "503" in health and "application/problem+json" in health["503"]["content"]


async def test_405_names_the_allowed_methods(api: Api) -> None:
    r = await api.http.delete("/v1/orders")
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem")
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


async def test_every_operation_answers_as_documented(dev_api: Api) -> None:
    """Generated requests (valid and invalid) for every operation, on the real dev server (so
    GET /v1/orders has visibility). Hypothesis runs in a thread; each request runs on this
    loop, where the app, its Temporal client and its database live."""
    schema = schemathesis.openapi.from_dict(await _document(dev_api))
    loop = asyncio.get_running_loop()

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        if kwargs.get("cookies"):
            kwargs["headers"] = {
                **(kwargs.get("headers") or {}),
                "Cookie": "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items()),
            }
        if isinstance(kwargs.get("data"), bytes | str):
            kwargs["content"] = kwargs.pop("data")
        extra = {
            k: kwargs.get(k) for k in ("params", "headers", "content", "json", "data", "files")
        }
        request = dev_api.http.request(
            kwargs["method"], kwargs["url"], **{k: v for k, v in extra.items() if v is not None}
        )
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)

    failures: list[str] = []
    seen: list[str] = []

    def run_operation(operation: Any) -> None:
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | (
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        )

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url="http://dom.test")
            response = send(kwargs)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Exception as e:  # collect all operations' failures, then report them together
            failures.append(f"{operation.label}: {e}"[:3000])

    def run_all() -> None:
        for result in schema.get_all_operations():
            operation = result.ok()
            seen.append(operation.label)
            run_operation(operation)

    await asyncio.to_thread(run_all)
    assert len(seen) == sum(len(p) for p in schema.raw_schema["paths"].values()), seen
    assert not failures, "\n\n".join(failures)
