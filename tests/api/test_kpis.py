"""GET /v1/kpis: the KPIs `dom kpis` shows, for ops keys only; a real order shows up in them as
soon as it is routed; bad query values are problem+json 422."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from activities.inventory import schema
from tests.support.api import Api, assert_problem
from tests.support.auth import new_key
from tests.support.insight import known_history
from tests.support.until import until
from workers.api.apikeys import auth_headers


async def test_kpis_of_a_known_history_by_node(api: Api) -> None:
    await known_history(api.engine)
    r = await api.http.get("/v1/kpis", params={"since": "2026-03-02", "by": "node"})
    assert r.status_code == 200, r.text
    doc = r.json()
    [total] = doc["total"]
    assert total["orders"] == 4 and total["split_rate"] == 0.25
    assert total["cost_per_order"] == {"amount": "9.75", "currency": "USD"}
    assert total["routing_savings"] == {"amount": "7.00", "currency": "USD"}
    nodes = {row["group"]: row for row in doc["rows"]}
    assert nodes["store-x"]["rejection_rate"] == 1.0 and nodes["wh-dallas"]["orders"] == 3


async def test_an_order_routed_through_the_api_is_counted(api: Api) -> None:
    api.deps.clock = lambda: time.time() + 86_400  # the test server's clock may run ahead
    order_id = await api.submit()
    await api.instructed(order_id)

    async def decided() -> Any:
        async with api.engine.connect() as conn:
            found = await conn.execute(
                sa.select(schema.routing_decisions.c.nodes).where(
                    schema.routing_decisions.c.order_id == order_id
                )
            )
            return found.scalar_one_or_none()

    nodes = await until(decided, lambda n: n is not None, f"{order_id} decided")
    doc = (await api.http.get("/v1/kpis", params={"since": "3d", "by": "node"})).json()
    assert doc["total"][0]["orders"] == 1
    assert {row["group"] for row in doc["rows"]} == set(nodes)
    assert doc["total"][0]["shipments"] == len(nodes)


async def test_kpis_need_the_ops_scope_and_valid_values(api: Api) -> None:
    key = await new_key(api.engine, ["orders:read", "orders:write"], name="not-ops")
    assert_problem(await api.http.get("/v1/kpis", headers=auth_headers(key)), 403, "ops")
    assert_problem(await api.http.get("/v1/kpis", params={"since": "yesterday"}), 422, "since")
    r = await api.http.get("/v1/kpis", params={"by": "colour"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
