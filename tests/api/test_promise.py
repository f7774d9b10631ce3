"""POST /v1/promise and GET /v1/availability/{sku} over HTTP: credentials, clear refusals, the
cache header, and an order submitted right after a promise routed to the promised nodes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import Api, assert_problem, order_body
from tests.support.auth import auth_headers, new_key

PROMISE = {
    "lines": [
        {"sku": "HAMMOCK", "qty": 1, "line_id": "1"},
        {"sku": "TENT-4P", "qty": 1, "line_id": "2"},
    ],
    "destination": {"zip": "10118"},
    "service_levels": ["ground", "express"],
}


async def test_a_promise_needs_a_key_with_the_read_scope(api: Api) -> None:
    anonymous = httpx.AsyncClient(transport=api.http._transport, base_url="http://dom.test")
    async with anonymous:
        assert_problem(await anonymous.post("/v1/promise", json=PROMISE), 401)
        writer = await new_key(api.engine, scopes=["orders:write"])
        r = await anonymous.post("/v1/promise", json=PROMISE, headers=auth_headers(writer))
        assert_problem(r, 403, "orders:read")
        reader = await new_key(api.engine, scopes=["orders:read"])
        r = await anonymous.post("/v1/promise", json=PROMISE, headers=auth_headers(reader))
        assert r.status_code == 200, r.text


async def test_the_answer_carries_a_dated_priced_option_per_service(api: Api) -> None:
    r = await api.http.post("/v1/promise", json=PROMISE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["service_level"] for o in body["options"]] == ["ground", "express"]
    for option in body["options"]:
        assert option["fulfillable"] == "full"
        assert option["ship_by"][-6:] in ("-05:00", "-06:00", "-08:00", "-04:00")  # node's zone
        assert option["delivery_earliest"] <= option["delivery_latest"]
        assert set(option["shipping_cost"]) == {"amount", "currency"}
        assert sum(ln["qty"] for s in option["shipments"] for ln in s["lines"]) == 2


async def test_a_repeat_is_served_from_the_cache_and_no_cache_plans_afresh(api: Api) -> None:
    first = await api.http.post("/v1/promise", json=PROMISE)
    again = await api.http.post("/v1/promise", json=PROMISE)
    fresh = await api.http.post("/v1/promise", json=PROMISE, headers={"Cache-Control": "no-cache"})
    assert [x.headers["X-Promise-Cache"] for x in (first, again, fresh)] == ["miss", "hit", "miss"]
    assert again.json()["options"] == first.json()["options"]


async def test_bad_promise_requests_are_refused_with_the_reason(api: Api) -> None:
    cases: list[tuple[Any, str]] = [
        ({"lines": [], "destination": {"zip": "10118"}}, "lines"),
        ({"lines": [{"sku": "NOPE", "qty": 1}], "destination": {"zip": "10118"}}, "NOPE"),
        ({"lines": [{"sku": "HAMMOCK", "qty": 0}], "destination": {"zip": "10118"}}, "qty"),
        ({"lines": [{"sku": "HAMMOCK", "qty": 1}], "destination": {}}, "exactly one"),
        ({"lines": [{"sku": "HAMMOCK", "qty": 1}], "destination": {"zip": "99999"}}, "99999"),
        ([1, 2], "body"),
    ]
    for body, needle in cases:
        assert_problem(await api.http.post("/v1/promise", json=body), 422, needle)
    r = await api.http.post(
        "/v1/promise", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 422)


async def test_an_order_after_a_promise_is_routed_to_the_promised_nodes(api: Api) -> None:
    cart = {
        "lines": [
            {"sku": "PAD-SLEEP", "qty": 2, "line_id": "1"},
            {"sku": "HAMMOCK", "qty": 1, "line_id": "2"},
        ],
        "destination": {"zip": "75201"},
    }
    promised = (await api.http.post("/v1/promise", json=cart)).json()["options"][0]
    nodes = sorted(s["node"] for s in promised["shipments"])
    body = order_body([("PAD-SLEEP", 2), ("HAMMOCK", 1)])
    body["ship_to"] = {
        "name": "T",
        "line1": "1 Main",
        "city": "Dallas",
        "state": "TX",
        "zip": "75201",
    }
    r = await api.http.post("/v1/orders", json=body)
    assert r.status_code == 202, r.text
    state = await api.until(body["order_id"], lambda s: bool(s.shipments), "routed")
    assert sorted(s.node for s in state.shipments) == nodes


async def test_availability_for_a_product_page(api: Api) -> None:
    r = await api.http.get("/v1/availability/HAMMOCK", params={"zip": "10118"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["available"] > 0
    assert body["nearest_pickup"]["node"] == "store-nyc"
    quoted = await api.http.post(
        "/v1/promise",
        json={
            "lines": [{"sku": "HAMMOCK", "qty": 1}],
            "destination": {"zip": "10118"},
            "service_levels": ["ground", "express", "overnight"],
        },
    )
    soonest = min(o["delivery_earliest"] for o in quoted.json()["options"])
    assert body["fastest"]["delivery_earliest"] == soonest
    assert_problem(await api.http.get("/v1/availability/NOPE"), 404, "NOPE")
    assert_problem(await api.http.get("/v1/availability/HAMMOCK", params={"zip": "1"}), 422)
