"""GET /v1/alerts (scope ops), the rules over HTTP (a threshold change applies at the next
evaluation), GET /v1/replenishment (ops or orders:read), and inventory feeds recording the health
the feed alerts read."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from activities.inventory import schema
from tests.support.alerts import T0, ScriptedVisibility, run, set_available
from tests.support.api import Api, assert_problem
from tests.support.auth import new_key
from workers.api.apikeys import auth_headers


async def test_alerts_are_listed_by_status_and_need_the_ops_scope(api: Api) -> None:
    r = await api.http.put(
        "/v1/alerts/rules/low-reno",
        json={"kind": "low-stock", "threshold": 10, "nodes": ["wh-reno"]},
    )
    assert r.status_code == 200, r.text
    rules = {x["id"]: x for x in (await api.http.get("/v1/alerts/rules")).json()}
    assert rules["low-reno"]["threshold"] == 10 and "order-not-routed" in rules  # defaults too
    await set_available(api.engine, "wh-reno", "JKT-RAIN-L", 3)
    orders = ScriptedVisibility()
    orders.start("OK-1", T0)
    await run(api.engine, orders, T0)
    opened = (await api.http.get("/v1/alerts", params={"status": "open"})).json()
    # Ours and the default low-stock rule's (warehouses below 10).
    keys = sorted(a["key"] for a in opened)
    assert keys == ["low-reno:wh-reno/JKT-RAIN-L", "low-stock:wh-reno/JKT-RAIN-L"]
    assert opened[0]["evidence"]["available"] == 3
    assert (await api.http.get("/v1/alerts", params={"status": "resolved"})).json() == []
    assert_problem(await api.http.get("/v1/alerts", params={"status": "closed"}), 422)
    key = await new_key(api.engine, ["orders:read", "orders:write"], name="not-ops")
    for method, path in (("GET", "/v1/alerts"), ("GET", "/v1/alerts/rules"),
                         ("PUT", "/v1/alerts/rules/x"), ("DELETE", "/v1/alerts/rules/low-reno")):  # fmt: skip
        r = await api.http.request(method, path, json={}, headers=auth_headers(key))
        assert_problem(r, 403, "ops")


async def test_a_bad_rule_is_refused_with_every_problem_and_changes_nothing(api: Api) -> None:
    before = (await api.http.get("/v1/alerts/rules")).json()
    bad = {"kind": "no-orders", "minutes": 0, "business_hours": {"timezone": "Mars/Base"}}
    doc = assert_problem(await api.http.put("/v1/alerts/rules/quiet", json=bad), 422)
    assert "minutes" in doc["detail"] and "Mars/Base" in doc["detail"]
    assert_problem(await api.http.put("/v1/alerts/rules/quiet", json={"kind": "nope"}), 422)
    other_id = {"id": "other", "kind": "low-stock"}
    assert_problem(await api.http.put("/v1/alerts/rules/quiet", json=other_id), 422, "other")
    assert_problem(await api.http.delete("/v1/alerts/rules/absent"), 404, "absent")
    assert (await api.http.get("/v1/alerts/rules")).json() == before


async def test_replenishment_for_ops_or_readers_and_not_writers(api: Api) -> None:
    r = await api.http.get(
        "/v1/replenishment", params={"sku": "JKT-RAIN-L", "node": "wh-reno", "lead_days": 3}
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["params"]["lead_days"] == 3 and doc["z"] > 1.6
    assert [(s["node"], s["sku"]) for s in doc["suggestions"]] == [("wh-reno", "JKT-RAIN-L")]
    reader = await new_key(api.engine, ["orders:read"], name="reader")
    ok = await api.http.get("/v1/replenishment", headers=auth_headers(reader))
    assert ok.status_code == 200
    writer = await new_key(api.engine, ["orders:write"], name="writer")
    refused = await api.http.get("/v1/replenishment", headers=auth_headers(writer))
    assert_problem(refused, 403, "ops", "orders:read")
    bad = await api.http.get("/v1/replenishment", params={"service_level": 2})
    assert_problem(bad, 422, "service_level")


async def test_inventory_feeds_record_their_health(api: Api) -> None:
    feed = {"feed_id": "F-1", "node": "wh-reno", "mode": "delta",
            "items": [{"sku": "NOT-A-SKU", "delta": 1}]}  # fmt: skip
    assert (await api.signed("wh-reno", "inventory", feed)).status_code == 422
    feed2 = {**feed, "feed_id": "F-2"}
    assert (await api.signed("wh-reno", "inventory", feed2)).status_code == 422
    async with api.engine.connect() as conn:
        row = (await conn.execute(sa.select(schema.feed_status))).one()
    assert (row.node_id, row.consecutive_failures) == ("wh-reno", 2)
    assert "NOT-A-SKU" in row.last_error
    good = {**feed, "feed_id": "F-3", "items": [{"sku": "JKT-RAIN-L", "delta": 1}]}
    assert (await api.signed("wh-reno", "inventory", good)).status_code == 200
    async with api.engine.connect() as conn:
        row = (await conn.execute(sa.select(schema.feed_status))).one()
    assert row.consecutive_failures == 0 and row.last_ok_at is not None
    last_ok = row.last_ok_at if row.last_ok_at.tzinfo else row.last_ok_at.replace(tzinfo=UTC)
    assert last_ok <= datetime.now(UTC)
