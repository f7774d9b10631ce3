"""Cart holds over HTTP: hold, repeat, read, extend, release; held units in the ATP view; every
bad request a 4xx problem that changes nothing; channels and scopes; and an order submitted
with the cart id takes the held units through its workflow."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from activities.inventory import holds
from dom_workflows.order.models import OrderStatus
from tests.support.api import Api, assert_problem, order_body
from tests.support.auth import new_key
from workers.api.apikeys import auth_headers

SKU = "BOOT-HIKE-9"


def cart() -> str:
    return f"cart-{uuid.uuid4().hex[:10]}"


async def held(api: Api, sku: str = SKU) -> int:
    r = await api.http.get(f"/v1/inventory/{sku}")
    assert r.status_code == 200, r.text
    total: int = r.json()["total_held"]
    assert total == sum(n["held"] for n in r.json()["nodes"])
    return total


def body(qty: int = 2, sku: str = SKU, **extra: Any) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "qty": qty}], **extra}


async def test_hold_read_extend_and_release_a_cart(api: Api) -> None:
    cid = cart()
    r = await api.http.post(f"/v1/carts/{cid}/hold", json=body(3))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "active" and doc["channel"] == "web"
    assert [(ln["sku"], ln["qty"], ln["line_id"]) for ln in doc["lines"]] == [(SKU, 3, "1")]
    assert doc["lines"][0]["node"]
    expires = datetime.fromisoformat(doc["expires_at"])
    created = datetime.fromisoformat(doc["created_at"])
    assert expires.tzinfo is not None
    assert expires - created == timedelta(minutes=15)  # the web channel's cart_hold_minutes
    assert await held(api) == 3
    again = await api.http.post(f"/v1/carts/{cid}/hold", json=body(3))
    assert again.status_code == 200 and again.json()["lines"] == doc["lines"]
    assert await held(api) == 3
    got = await api.http.get(f"/v1/carts/{cid}/hold")
    assert got.status_code == 200 and got.json()["lines"] == doc["lines"]
    ext = await api.http.post(f"/v1/carts/{cid}/hold/extend", json={"minutes": 5})
    assert ext.status_code == 200, ext.text
    assert datetime.fromisoformat(ext.json()["expires_at"]) >= expires  # never earlier
    gone = await api.http.delete(f"/v1/carts/{cid}/hold")
    assert gone.status_code == 200 and gone.json()["status"] == "released"
    assert await held(api) == 0
    assert (await api.http.delete(f"/v1/carts/{cid}/hold")).json()["status"] == "released"
    late = await api.http.post(f"/v1/carts/{cid}/hold/extend")
    assert_problem(late, 409, "released")


async def test_a_changed_cart_replaces_its_hold(api: Api) -> None:
    cid = cart()
    assert (await api.http.post(f"/v1/carts/{cid}/hold", json=body(2))).status_code == 201
    two = {"lines": [{"sku": SKU, "qty": 1}, {"sku": "TENT-2P", "qty": 1, "line_id": "tent"}]}
    r = await api.http.post(f"/v1/carts/{cid}/hold", json=two)
    assert r.status_code == 201, r.text
    assert sorted((ln["line_id"], ln["qty"]) for ln in r.json()["lines"]) == [("1", 1), ("tent", 1)]
    assert await held(api) == 1 and await held(api, "TENT-2P") == 1


async def test_bad_holds_are_refused_and_change_nothing(api: Api) -> None:
    cid = cart()
    for payload, status, needle in [
        (body(2, sku="NO-SUCH-SKU"), 422, "NO-SUCH-SKU"),
        (body(0), 422, "qty"),
        (body(2, minutes=16), 422, "at most 15 minutes"),
        (body(2, minutes=0), 422, "minutes"),
        ({"lines": []}, 422, "lines"),
        (body(2, destination={"lat": 40.0}), 422, "lat and lon"),
        (body(2, destination={"zip": "00000"}), 422, "00000"),
        (body(100_000), 422, "qty"),
        (body(9_999), 409, SKU),
    ]:
        r = await api.http.post(f"/v1/carts/{cid}/hold", json=payload)
        assert_problem(r, status, needle)
    assert_problem(await api.http.post(f"/v1/carts/{cid}/hold", content=b"{"), 422, "JSON")
    assert_problem(await api.http.post("/v1/carts/bad%20id/hold", json=body()), 422, "cart id")
    assert await held(api) == 0
    assert await holds.get_hold(api.engine, cid) is None
    assert_problem(await api.http.get(f"/v1/carts/{cid}/hold"), 404, cid)
    assert_problem(await api.http.delete(f"/v1/carts/{cid}/hold"), 404, cid)
    assert_problem(await api.http.post(f"/v1/carts/{cid}/hold/extend"), 404, cid)


async def test_allow_partial_holds_what_there_is(api: Api) -> None:
    r = await api.http.post(
        f"/v1/carts/{cart()}/hold", json=body(9_999, sku="SUP-BOARD", allow_partial=True)
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    got = sum(ln["qty"] for ln in doc["lines"])
    assert got == await held(api, "SUP-BOARD") > 0
    assert doc["short"] == [{"line_id": "1", "sku": "SUP-BOARD", "qty": 9_999 - got}]
    atp = (await api.http.get("/v1/inventory/SUP-BOARD")).json()["total_atp"]
    assert atp == 0


async def test_a_channel_key_holds_for_its_channel_and_sees_only_its_carts(api: Api) -> None:
    shop = auth_headers(await new_key(api.engine, channel="shopify", name="shop"))
    market = auth_headers(await new_key(api.engine, channel="marketplace", name="market"))
    reader = auth_headers(await new_key(api.engine, scopes=["orders:read"], name="reader"))
    cid = cart()
    r = await api.http.post(f"/v1/carts/{cid}/hold", json=body(1), headers=shop)
    assert r.status_code == 201 and r.json()["channel"] == "shopify"
    doc = r.json()
    # The shopify channel's holds last 20 minutes (examples/network.json).
    span = datetime.fromisoformat(doc["expires_at"]) - datetime.fromisoformat(doc["created_at"])
    assert span == timedelta(minutes=20)
    for call in (
        api.http.get(f"/v1/carts/{cid}/hold", headers=market),
        api.http.delete(f"/v1/carts/{cid}/hold", headers=market),
        api.http.post(f"/v1/carts/{cid}/hold/extend", headers=market),
    ):
        assert_problem(await call, 404, cid)
    taken = await api.http.post(f"/v1/carts/{cid}/hold", json=body(2), headers=market)
    assert_problem(taken, 409, "another channel")
    assert (await api.http.get(f"/v1/carts/{cid}/hold", headers=reader)).status_code == 200
    denied = await api.http.post(f"/v1/carts/{cart()}/hold", json=body(1), headers=reader)
    assert_problem(denied, 403, "orders:write")
    anonymous = await api.http.get(f"/v1/carts/{cid}/hold", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert await held(api) == 1


async def test_an_order_with_the_cart_id_takes_the_held_units(api: Api) -> None:
    cid = cart()
    before = (await api.http.get(f"/v1/inventory/{SKU}")).json()
    r = await api.http.post(f"/v1/carts/{cid}/hold", json=body(2, destination={"zip": "10118"}))
    assert r.status_code == 201, r.text
    order_id = await api.submit(lines=[(SKU, 2)], cart_id=cid)
    state = await api.instructed(order_id)
    assert state.status != OrderStatus.FAILED and sum(s.units for s in state.shipments) == 2
    hold = (await api.http.get(f"/v1/carts/{cid}/hold")).json()
    assert (hold["status"], hold["order_id"]) == ("converted", order_id)
    after = (await api.http.get(f"/v1/inventory/{SKU}")).json()
    assert after["total_held"] == 0
    assert after["total_reserved"] == before["total_reserved"] + 2
    assert after["total_atp"] == before["total_atp"] - 2
    # The cart is spent: it cannot be held or released again.
    assert_problem(await api.http.post(f"/v1/carts/{cid}/hold", json=body(2)), 409, order_id)
    assert_problem(await api.http.delete(f"/v1/carts/{cid}/hold"), 409, order_id)
    bad = await api.http.post("/v1/orders", json=order_body(cart_id="not a cart"))
    assert_problem(bad, 422, "cart_id")


async def test_unauthenticated_requests_change_nothing(api: Api) -> None:
    async with httpx.AsyncClient(transport=api.http._transport, base_url="http://dom.test") as bare:
        r = await bare.post(f"/v1/carts/{cart()}/hold", json=body(1))
    assert_problem(r, 401, "API key")
    assert await held(api) == 0
