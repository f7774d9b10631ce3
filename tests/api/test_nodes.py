"""Live node settings over HTTP: ops read every node's calendar, capacity and today's usage, and
change them; the next order is routed with the change (a real worker, no restart). Other scopes
are refused, bad values are 422 and change nothing; holidays are put, listed and deleted."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from activities.inventory import schema
from tests.support.api import Api, assert_problem
from tests.support.auth import new_key
from tests.support.until import until
from workers.api.apikeys import auth_headers


async def routed_plan(api: Api, order_id: str) -> dict[str, Any]:
    """The plan the worker stored for the order's first routing attempt."""
    plans = schema.routing_plans

    async def stored() -> Any:
        async with api.engine.connect() as conn:
            row = await conn.execute(
                sa.select(plans.c.result).where(
                    plans.c.order_id == order_id, plans.c.route_attempt == 1
                )
            )
            return row.scalar_one_or_none()

    result: dict[str, Any] = await until(stored, lambda r: r is not None, f"{order_id} routed")
    return result


def shipped_from(result: dict[str, Any]) -> list[str]:
    return [f["node"] for f in result["fulfillments"]]


def reason(result: dict[str, Any], node: str) -> str | None:
    for e in result["plan"]["explanation"]["excluded"]:
        if e["node"] == node and e.get("sku") is None:
            return str(e["reason"])
    return None


async def test_a_capacity_set_by_ops_applies_to_the_next_order(api: Api) -> None:
    listed = await api.http.get("/v1/nodes")
    assert listed.status_code == 200, listed.text
    nodes = {n["node_id"]: n for n in listed.json()}
    assert len(nodes) == len(api.deps.network.nodes)
    nyc = nodes["store-nyc"]
    assert nyc["settings"]["timezone"] == "America/New_York"
    assert nyc["settings"]["capacity_limit"] == 120 and nyc["capacity"]["unit"] == "orders"

    first = await routed_plan(api, await api.submit())
    [node] = shipped_from(first)
    shown = (await api.http.get(f"/v1/nodes/{node}")).json()
    assert shown["capacity"]["orders"] == 1  # routing counted the order on the node's day

    changed = await api.http.patch(
        f"/v1/nodes/{node}", json={"capacity": {"limit": 1, "unit": "orders"}, "cutoff": "13:15"}
    )
    assert changed.status_code == 200, changed.text
    doc = changed.json()
    assert doc["settings"]["capacity_limit"] == 1 and doc["settings"]["cutoff"] == "13:15"
    assert doc["settings"]["updated_by"] == "apikey:test"
    assert doc["settings"]["updated_at"].endswith(("Z", "+00:00"))  # timezone-aware
    assert doc["capacity"]["full"] and doc["capacity"]["note"] == "1/1 orders today"

    # The running worker routes the next order with the new limit: the node is full.
    second = await routed_plan(api, await api.submit())
    assert node not in shipped_from(second)
    assert reason(second, node) == "capacity: 1/1 orders today"

    unlimited = await api.http.patch(f"/v1/nodes/{node}", json={"capacity": None})
    assert unlimited.status_code == 200 and unlimited.json()["settings"]["capacity_limit"] is None
    third = await routed_plan(api, await api.submit())
    assert shipped_from(third) == [node]


async def test_node_routes_need_the_ops_scope(api: Api) -> None:
    before = (await api.http.get("/v1/nodes/store-nyc")).json()
    for scopes in (["orders:write"], ["orders:read", "orders:write"]):
        key = await new_key(api.engine, scopes, name="not-ops")
        headers = auth_headers(key)
        calls: list[tuple[str, str, Any]] = [
            ("GET", "/v1/nodes", None),
            ("GET", "/v1/nodes/store-nyc", None),
            ("PATCH", "/v1/nodes/store-nyc", {"capacity": {"limit": 0}}),
            ("GET", "/v1/holidays", None),
            ("PUT", "/v1/holidays/2026-12-31", {"name": "x"}),
            ("DELETE", "/v1/holidays/2026-11-26", None),
        ]
        for method, path, body in calls:
            r = await api.http.request(method, path, json=body, headers=headers)
            assert_problem(r, 403, "ops")
    after = (await api.http.get("/v1/nodes/store-nyc")).json()
    assert after == before
    days = [h["day"] for h in (await api.http.get("/v1/holidays")).json()]
    assert "2026-11-26" in days and "2026-12-31" not in days


async def test_bad_changes_are_refused_and_change_nothing(api: Api) -> None:
    before = (await api.http.get("/v1/nodes/store-nyc")).json()
    bad: list[tuple[Any, str]] = [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"timezone": None}, "timezone cannot be null"),
        ({"cutoff": "25:00"}, "cutoff"),
        ({"cutoff": "2pm"}, "cutoff"),
        ({"working_days": []}, "working_days"),
        ({"working_days": ["mon", "mon"]}, "twice"),
        ({"working_days": ["funday"]}, "working_days"),
        ({"handling_days": -1}, "handling_days"),
        ({"capacity": {"limit": -1}}, "limit"),
        ({"capacity": {"limit": 5, "unit": "pallets"}}, "unit"),
        ({"capacity_limit": 5}, "capacity_limit"),
        ({}, "at least one"),
        ([1, 2], ""),
    ]
    for body, needle in bad:
        r = await api.http.patch("/v1/nodes/store-nyc", json=body)
        assert_problem(r, 422, needle)
    raw = await api.http.patch(
        "/v1/nodes/store-nyc", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(raw, 422)
    assert (await api.http.get("/v1/nodes/store-nyc")).json() == before
    assert_problem(await api.http.get("/v1/nodes/nowhere"), 404, "nowhere")
    assert_problem(await api.http.patch("/v1/nodes/nowhere", json={"cutoff": "10:00"}), 404)


async def test_holidays_are_put_listed_and_deleted(api: Api) -> None:
    http: httpx.AsyncClient = api.http
    put = await http.put("/v1/holidays/2026-12-31?node=store-nyc", json={"name": "NYE"})
    assert put.status_code == 200, put.text
    assert put.json() == {
        "holiday": {"day": "2026-12-31", "node_id": "store-nyc", "name": "NYE"},
        "created": True,
    }
    again = await http.put(
        "/v1/holidays/2026-12-31?node=store-nyc", json={"name": "New Year's Eve"}
    )
    assert again.json()["created"] is False
    mine = (await http.get("/v1/holidays?node=store-nyc")).json()
    assert {"day": "2026-12-31", "node_id": "store-nyc", "name": "New Year's Eve"} in mine
    assert {"day": "2026-11-26", "node_id": None, "name": "Thanksgiving"} in mine  # network-wide
    nyc = (await http.get("/v1/nodes/store-nyc")).json()["settings"]["holidays"]
    reno = (await http.get("/v1/nodes/wh-reno")).json()["settings"]["holidays"]
    assert "2026-12-31" in nyc and "2026-12-31" not in reno and "2026-11-26" in reno

    network_wide = await http.put("/v1/holidays/2026-12-30")  # no body: no name
    assert network_wide.status_code == 200 and network_wide.json()["holiday"]["node_id"] is None
    reno = (await http.get("/v1/nodes/wh-reno")).json()["settings"]["holidays"]
    assert "2026-12-30" in reno

    assert (await http.delete("/v1/holidays/2026-12-31?node=store-nyc")).status_code == 204
    assert_problem(await http.delete("/v1/holidays/2026-12-31?node=store-nyc"), 404)
    assert (await http.delete("/v1/holidays/2026-12-30")).status_code == 204
    nyc = (await http.get("/v1/nodes/store-nyc")).json()["settings"]["holidays"]
    assert "2026-12-31" not in nyc and "2026-12-30" not in nyc

    assert_problem(await http.put("/v1/holidays/2026-12-31?node=nowhere"), 404, "nowhere")
    assert_problem(await http.put("/v1/holidays/not-a-day"), 422)
    assert_problem(await http.put("/v1/holidays/2026-12-31", json={"name": 7}), 422)


async def test_a_rejected_shipment_and_a_cancelled_order_give_their_capacity_back(
    api: Api,
) -> None:
    async def orders_today(node: str) -> int:
        r = await api.http.get(f"/v1/nodes/{node}")
        count: int = r.json()["capacity"]["orders"]
        return count

    oid = await api.submit()
    first = (await api.instructed(oid)).shipments[0]
    assert await orders_today(first.node) == 1
    rejected = await api.signed(
        first.node,
        "events",
        {
            "event_id": f"ev-{oid}",
            "type": "fulfillment.rejected",
            "shipment_id": first.shipment_id,
            "reason": "no staff",
        },
    )
    assert rejected.status_code == 202, rejected.text
    state = await api.until(oid, lambda s: len(s.shipments) > 1, "the re-route")
    second = state.shipments[-1]
    assert second.node != first.node
    # The re-route released the first shipment: its node has the order back.
    await until(lambda: orders_today(first.node), lambda n: n == 0, "capacity back at the first")
    assert await orders_today(second.node) == 1

    cancelled = await api.http.post(f"/v1/orders/{oid}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    await until(lambda: orders_today(second.node), lambda n: n == 0, "capacity back on cancel")
