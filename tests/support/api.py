"""The API driver: an httpx client on the ASGI app plus the ledger behind it, sample order
bodies, signed partner posts and RFC 9457 problem checks."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.inventory import schema
from dom_workflows.config import PROJECT_ROOT, Settings
from dom_workflows.network import Network
from dom_workflows.order.models import OrderState
from dom_workflows.partners import signing
from tests.support.auth import authorize
from tests.support.until import until
from workers.api.app import ApiDeps, create_app
from workers.api.security import PartnerSecrets, load_secrets
from workers.client import DomClient
from workers.worker import build_worker, dependencies

SECRETS = load_secrets(PROJECT_ROOT / "examples" / "partners.json")


def order_body(
    lines: list[tuple[str, int]] | None = None, order_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id or f"API-{uuid.uuid4().hex[:10]}",
        "channel": "web",
        "customer": {"id": "C-1", "tier": "standard"},
        "lines": [
            {
                "line_id": str(i + 1),
                "sku": sku,
                "qty": qty,
                "unit_price": {"amount": "50.00", "currency": "USD"},
            }
            for i, (sku, qty) in enumerate(lines or [("BOOT-HIKE-9", 1)])
        ],
        "ship_to": {
            "name": "T",
            "line1": "350 5th Ave",
            "city": "New York",
            "state": "NY",
            "zip": "10118",
        },
    }
    body.update(extra)
    return body


@dataclass
class Api:
    http: httpx.AsyncClient
    deps: ApiDeps
    engine: AsyncEngine
    secrets: PartnerSecrets

    async def submit(self, **kw: Any) -> str:
        r = await self.http.post("/v1/orders", json=order_body(**kw))
        assert r.status_code == 202, r.text
        order_id: str = r.json()["order_id"]
        return order_id

    async def state(self, order_id: str) -> OrderState:
        r = await self.http.get(f"/v1/orders/{order_id}")
        assert r.status_code == 200, r.text
        return OrderState.model_validate(r.json())

    async def until(
        self, order_id: str, check: Callable[[OrderState], bool], what: str
    ) -> OrderState:
        return await until(
            lambda: self.state(order_id),
            check,
            what,
            describe=lambda s: s.model_dump_json(indent=1),
        )

    async def instructed(self, order_id: str) -> OrderState:
        return await self.until(
            order_id,
            lambda s: any(e.kind == "instructed" for e in s.timeline),
            "an instructed shipment",
        )

    async def signed(
        self,
        partner: str,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        at: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sig = signing.signed_headers(
            secret or self.secrets.partners[partner], raw, at if at is not None else time.time()
        )
        return await self.http.post(
            f"/v1/partners/{partner}/{path}",
            content=raw,
            headers={"Content-Type": "application/json", **sig, **(headers or {})},
        )

    async def movements(self, reference: str) -> list[Any]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(schema.movements).where(schema.movements.c.reference == reference)
            )
            return list(rows)

    async def position(self, node: str, sku: str) -> tuple[int, int]:
        pos = schema.inventory_positions
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(pos.c.on_hand, pos.c.reserved).where(
                        pos.c.node_id == node, pos.c.sku == sku
                    )
                )
            ).one()
            return row.on_hand, row.reserved


def assert_problem(r: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    doc: dict[str, Any] = r.json()
    assert doc["status"] == status and doc["title"] and doc["type"].startswith("https://")
    for n in needles:
        assert n.lower() in doc["detail"].lower(), (n, doc["detail"])
    return doc


@contextlib.asynccontextmanager
async def api_on(
    env: WorkflowEnvironment,
    engine: AsyncEngine,
    network: Network,
    task_queue: str,
    settings: Settings | None = None,
) -> AsyncIterator[Api]:
    """The app over httpx's ASGI transport with a real worker on `env` (any Temporal server);
    fails if a request reached the catch-all 500 handler."""
    async with dependencies(settings or Settings(), engine=engine, network=network) as wdeps:
        async with build_worker(env.client, task_queue, wdeps):
            deps = ApiDeps(
                dom=DomClient(env.client, task_queue),
                engine=engine,
                network=network,
                secrets=SECRETS,
            )
            app = create_app(deps)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://dom.test") as http:
                await authorize(http, engine)  # every scope, no channel
                yield Api(http, deps, engine, SECRETS)
            assert app.state.unexpected_errors == 0, "a request reached the catch-all 500 handler"
