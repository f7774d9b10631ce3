"""Holds and payment methods over HTTP: ops hold and release; refusals are 409 with the reason."""

from __future__ import annotations

from tests.support.api import Api, assert_problem


async def test_an_ops_hold_is_placed_and_released_over_http(api: Api) -> None:
    order_id = await api.submit(lines=[("GPS-WATCH", 1)])
    r = await api.http.post(f"/v1/orders/{order_id}/holds", json={"reason": "address check"})
    assert r.status_code == 200, r.text
    assert [h["kind"] for h in r.json()] == ["manual"]
    state = await api.until(order_id, lambda s: s.status.value == "on_hold", "on hold")
    assert state.holds[0].reason == "address check"

    r = await api.http.post(f"/v1/orders/{order_id}/holds/release", json={"kind": "fraud"})
    assert_problem(r, 409, "has no fraud hold", "manual")
    r = await api.http.post(f"/v1/orders/{order_id}/holds/release", json={"note": "checked"})
    assert r.status_code == 200 and r.json() == []
    await api.instructed(order_id)


async def test_bad_hold_requests(api: Api) -> None:
    assert_problem(
        await api.http.post("/v1/orders/NOPE-1/holds", json={"reason": "x"}), 404, "NOPE-1"
    )
    order_id = await api.submit()
    assert_problem(await api.http.post(f"/v1/orders/{order_id}/holds", json={"reason": ""}), 422)
    assert_problem(await api.http.post(f"/v1/orders/{order_id}/holds", content=b"{not json"), 422)
    r = await api.http.post(
        f"/v1/orders/{order_id}/payment-method", json={"payment_token": "tok_visa"}
    )
    assert_problem(r, 409, "not waiting for a payment method")
