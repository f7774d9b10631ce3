"""The versioned network over HTTP with a real worker that follows the active version: a version
applied with PUT /v1/network routes the next order and its decision names it; dry runs and bad
documents change nothing; history, rollback, node lifecycle and an order's scopes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.config import Settings
from dom_workflows.network import Network
from tests.api.test_nodes import routed_plan, shipped_from
from tests.support.api import SECRETS, Api, assert_problem
from tests.support.auth import authorize
from tests.support.until import until
from workers.api.app import ApiDeps, create_app
from workers.client import DomClient
from workers.worker import build_worker, dependencies


@contextlib.asynccontextmanager
async def versioned_api(
    env: WorkflowEnvironment, engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Api]:
    """The app and a worker that routes by the database's active network version."""
    async with dependencies(Settings(), engine=engine, network=network, versioned=True) as w:
        async with build_worker(env.client, task_queue, w):
            deps = ApiDeps(
                dom=DomClient(env.client, task_queue), engine=engine, network=network,
                secrets=SECRETS,
            )  # fmt: skip
            app = create_app(deps)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://dom.test") as http:
                await authorize(http, engine)
                yield Api(http, deps, engine, SECRETS)
            assert app.state.unexpected_errors == 0


async def scopes_of(api: Api, order_id: str) -> list[dict[str, Any]]:
    async def get() -> httpx.Response:
        return await api.http.get(f"/v1/network/orders/{order_id}")

    r = await until(get, lambda r: r.status_code == 200, f"{order_id} decision")
    out: list[dict[str, Any]] = r.json()
    return out


async def test_apply_over_http_routes_the_next_order_and_its_decision_names_the_version(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    async with versioned_api(time_env, sqlite_engine, network, task_queue) as api:
        active = (await api.http.get("/v1/network")).json()
        assert active["version"] == 1 and active["author"] == "network-seed"
        first = await api.submit()
        [node] = shipped_from(await routed_plan(api, first))
        assert (await scopes_of(api, first))[0]["network_version"] == 1

        doc = active["document"] | {"node_states": {node: "draining"}}
        dry = await api.http.put("/v1/network", params={"dry_run": "true"}, json=doc)
        assert dry.status_code == 200, dry.text
        assert dry.json()["applied"] is None
        assert [c["what"] for c in dry.json()["changes"]] == [f"node state {node}"]
        assert (await api.http.get("/v1/network")).json()["version"] == 1

        bad = active["document"] | {"node_scopes": {"wh-atlantis": {}}}
        assert_problem(
            await api.http.put("/v1/network", json=bad),
            422,
            "node_scopes: unknown node wh-atlantis",
        )

        applied = await api.http.put("/v1/network", params={"comment": "drain"}, json=doc)
        assert applied.status_code == 200, applied.text
        assert applied.json()["applied"]["version"] == 2
        second = await api.submit()
        assert node not in shipped_from(await routed_plan(api, second))
        [decision] = await scopes_of(api, second)
        assert (decision["network_version"], decision["policy_version"]) == (2, "1")

        back = await api.http.post("/v1/network/versions/1/rollback")
        assert back.status_code == 200 and back.json()["applied"]["rollback_of"] == 1
        third = await api.submit()
        assert shipped_from(await routed_plan(api, third)) == [node]
        history = (await api.http.get("/v1/network/versions")).json()
        assert [(v["version"], v["author"]) for v in history] == [
            (3, "apikey:test"), (2, "apikey:test"), (1, "network-seed"),
        ]  # fmt: skip


async def test_node_lifecycle_and_refusals_over_http(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    async with versioned_api(time_env, sqlite_engine, network, task_queue) as api:
        r = await api.http.put("/v1/nodes/store-la/lifecycle", json={"state": "disabled"})
        assert r.status_code == 200, r.text
        assert r.json()["changes"][0]["detail"] == "active -> disabled"
        assert (await api.http.get("/v1/network")).json()["document"]["node_states"] == {
            "store-la": "disabled"
        }
        assert_problem(
            await api.http.put("/v1/nodes/nowhere/lifecycle", json={"state": "draining"}),
            404,
            "unknown node",
        )
        assert_problem(
            await api.http.put("/v1/nodes/store-la/lifecycle", json={"state": "paused"}), 422
        )
        assert_problem(await api.http.get("/v1/network/versions/99"), 404, "no network version 99")
        assert_problem(await api.http.get("/v1/network/orders/NEVER"), 404, "NEVER")
        await authorize(api.http, api.engine, scopes=["orders:read"])
        assert_problem(await api.http.put("/v1/nodes/store-la/lifecycle", json={}), 403, "ops")
