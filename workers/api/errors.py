"""RFC 9457 problem details for every error the API returns.

Handlers raise `Problem`; framework errors (routing, validation) and Temporal outages are
translated here, so a client always gets `application/problem+json` with a `detail` that says
what is wrong. Only a bug reaches the catch-all 500 -- and it is counted, so tests can assert
that no bad input ever did.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger("dom.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://dom-workflows.dev/problems/"
MAX_BODY_BYTES = 1_000_000

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


class Problem(Exception):
    """An error with an HTTP status, a short machine-readable kind and a human `detail`;
    `headers` go on the response (a 503's `Retry-After`)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.errors = status, kind, detail, errors
        self.headers = dict(headers or {})


class ProblemDoc(BaseModel):
    """The problem+json body, for the OpenAPI document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_response(
    status: int,
    kind: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic error dicts can hold exceptions and Decimals in `ctx`/`input`; keep them printable."""
    out = []
    for e in errors:
        out.append(
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
        )
    return json.loads(json.dumps(out, default=str))


def validation_problem(err: ValidationError | RequestValidationError, what: str) -> Problem:
    errors = _jsonable_errors(err.errors())
    summary = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in errors[:5]) + (
        f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    )
    return Problem(422, "invalid-body", f"{what} is invalid: {summary}", errors=errors)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or a 422 problem that says why it is not."""
    if len(raw) > MAX_BODY_BYTES:
        raise Problem(
            413, "body-too-large", f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}"
        )
    if not raw.strip():
        raise Problem(422, "invalid-json", "the request body is empty; a JSON object is expected")
    try:
        return json.loads(raw)
    except RecursionError:
        raise Problem(422, "invalid-json", "the JSON body is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise Problem(422, "invalid-json", f"the request body is not valid JSON: {e}") from None


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], raw: bytes, what: str, *, empty_ok: bool = False) -> M:
    """The body as `model`, or a 422 problem naming every field that is wrong. With
    `empty_ok`, an empty body means the model's defaults."""
    try:
        return model.model_validate(parse_json(raw) if raw.strip() or not empty_ok else {})
    except ValidationError as e:
        raise validation_problem(e, what) from None


# Seconds a client should wait before trying again after a 503 (Temporal unavailable).
TEMPORAL_RETRY_AFTER_SECONDS = 5


def temporal_problem(err: RPCError, what: str) -> Problem:
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return Problem(
            503,
            "temporal-unavailable",
            f"Temporal is unavailable while {what}: {err.message}",
            headers={"Retry-After": str(TEMPORAL_RETRY_AFTER_SECONDS)},
        )
    return Problem(502, "temporal-error", f"Temporal refused {what}: {err.message}")


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette's 405 names only the first
    matching route's, and GET and POST /v1/orders live in two routers)."""
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]


def install(app: FastAPI) -> None:
    app.state.unexpected_errors = 0

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status, exc.kind, exc.detail, request.url.path, exc.errors, exc.headers
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        p = validation_problem(exc, "the request")
        return problem_response(p.status, p.kind, p.detail, request.url.path, p.errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"there is no endpoint at {request.method} {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        response = problem_response(exc.status_code, kind, detail, request.url.path)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    async def on_rpc(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RPCError)
        p = temporal_problem(exc, f"serving {request.method} {request.url.path}")
        return problem_response(p.status, p.kind, p.detail, request.url.path, headers=p.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: log it with the traceback, count it, answer without internals.
        request.app.state.unexpected_errors += 1
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal", "an unexpected error occurred; it has been logged", request.url.path
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RPCError, on_rpc)
    app.add_exception_handler(Exception, on_unexpected)
