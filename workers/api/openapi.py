"""The served OpenAPI document, made self-contained.

Routes that read their body themselves (to answer every malformed body with a precise 422)
describe it with `openapi_extra` and a model's `model_json_schema()`, whose nested models sit
under a local `$defs` with `#/$defs/<Model>` references -- dangling once embedded in the
document. Here every such schema moves to `components/schemas` (the body itself too, by its
title) and every reference points there, so the document validates and generators can follow it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

DEFS = "#/$defs/"
COMPONENTS = "#/components/schemas/"


def _retarget(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _retarget(v) for k, v in node.items() if k != "$defs"}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFS):
            out["$ref"] = COMPONENTS + ref.removeprefix(DEFS)
        return out
    if isinstance(node, list):
        return [_retarget(v) for v in node]
    return node


def _register(components: dict[str, Any], name: str, schema: dict[str, Any]) -> str:
    """Add `schema` under `name`, or under `name-Body` if another schema already has `name`."""
    for candidate in (name, f"{name}-Body"):
        existing = components.get(candidate)
        if existing is None:
            components[candidate] = schema
            return candidate
        if json.dumps(existing, sort_keys=True) == json.dumps(schema, sort_keys=True):
            return candidate
    raise ValueError(f"two different schemas are both called {name!r} in the OpenAPI document")


def hoist_body_schemas(doc: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    for path in doc.get("paths", {}).values():
        for op in path.values():
            if not isinstance(op, dict):
                continue
            for media in op.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema")
                if not isinstance(schema, dict) or "$ref" in schema:
                    continue
                for name, sub in schema.get("$defs", {}).items():
                    _register(components, name, _retarget(sub))
                if "title" in schema:
                    name = _register(components, schema["title"], _retarget(schema))
                    media["schema"] = {"$ref": COMPONENTS + name}
                else:
                    media["schema"] = _retarget(schema)
    return doc


def install(app: FastAPI) -> None:
    """Serve the self-contained document at /openapi.json (built once, like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = hoist_body_schemas(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
