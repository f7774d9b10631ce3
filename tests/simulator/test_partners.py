"""Nodes, suppliers, the carrier and the payment provider as the DOM sees them."""

from __future__ import annotations

import asyncio
import contextlib

from tests.simulator.bodies import ADDRESS, RENO, authorize, capture, fulfilment, label, money
from tests.support.sim import SimFactory, SimHarness

LIFECYCLE = ["fulfillment.accepted", "shipment.shipped", "shipment.delivered"]


async def _settled(h: SimHarness, shipment_id: str) -> None:
    """The job's lifecycle has ended (finished or cancelled) and every event it produced has
    been posted: nothing more can arrive for it."""
    task = h.sim.fulfilments.jobs[shipment_id].task
    assert task is not None
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 5)
    await h.sim.poster.drain()


async def test_node_takes_a_request_and_posts_signed_events_in_order(h: SimHarness) -> None:
    sid = "O-1:1:wh-reno"
    r = await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), sid)
    assert r.status_code == 202 and r.json()["status"] == "received"
    await h.receiver.wait_for(lambda: len(h.receiver.types(sid)) == 3)
    assert h.receiver.types(sid) == LIFECYCLE
    partner, shipped = h.receiver.events[1]
    assert partner == "wh-reno"  # signed with wh-reno's secret, verified by the receiver
    assert shipped["event_id"] == f"{sid}:shipped" and shipped["order_id"] == "O-1"
    assert shipped["carrier"] == "UPS-SIM" and shipped["tracking"].startswith("1ZSIM")
    status = (await h.http.get(f"/nodes/wh-reno/fulfillment-requests/{sid}")).json()
    assert status["status"] == "delivered"
    await (
        h.sim.poster.drain()
    )  # the receiver has the events; the poster may not have the answers yet
    posted = (await h.http.get("/_events")).json()
    assert [p["delivered"] for p in posted] == [True, True, True]


async def test_rejections_follow_the_reject_rate(make_sim: SimFactory) -> None:
    h = await make_sim(reject_rate=1.0)
    sid = "O-2:1:store-nyc"
    await h.post("/nodes/store-nyc/fulfillment-requests", fulfilment(sid, "store-nyc"), sid)
    await h.receiver.wait_for(lambda: bool(h.receiver.types(sid)))
    await _settled(h, sid)
    assert h.receiver.types(sid) == ["fulfillment.rejected"]
    assert h.receiver.events[0][1]["reason"]


async def test_cancel_before_shipping_stops_pending_events(make_sim: SimFactory) -> None:
    h = await make_sim(accept_delay=0.01, ship_delay=5.0)
    sid = "O-3:1:wh-dallas"
    await h.post("/nodes/wh-dallas/fulfillment-requests", fulfilment(sid, "wh-dallas"), sid)
    await h.receiver.wait_for(lambda: bool(h.receiver.types(sid)))
    url = f"/nodes/wh-dallas/fulfillment-requests/{sid}/cancel"
    r = await h.post(url, {"shipment_id": sid, "reason": "customer"}, f"cancel:{sid}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    await _settled(h, sid)
    assert h.sim.fulfilments.jobs[sid].task.cancelled()  # type: ignore[union-attr]
    assert h.receiver.types(sid) == ["fulfillment.accepted"]
    assert (await h.post(url, {}, "cancel-again")).status_code == 200  # idempotent by state too


async def test_cancel_after_shipping_is_refused_and_unknown_is_404(make_sim: SimFactory) -> None:
    h = await make_sim(deliver_delay=5.0)
    sid = "O-4:1:wh-reno"
    await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), sid)
    await h.receiver.wait_for(lambda: "shipment.shipped" in h.receiver.types(sid))
    url = f"/nodes/wh-reno/fulfillment-requests/{sid}/cancel"
    assert (await h.post(url, {}, f"cancel:{sid}")).status_code == 409
    assert (
        await h.post("/nodes/wh-reno/fulfillment-requests/nope/cancel", {}, "c")
    ).status_code == 404


async def test_one_shipment_under_two_keys_is_one_parcel(h: SimHarness) -> None:
    sid = "O-5:1:wh-reno"
    assert (
        await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), "k1")
    ).status_code == 202
    assert (
        await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), "k2")
    ).status_code == 409
    assert (await h.effects())["by_subject"] == {f"node-request:{sid}": 1}


async def test_unknown_partners_are_refused_loudly(h: SimHarness) -> None:
    r = await h.post("/nodes/wh-nowhere/fulfillment-requests", fulfilment("O-6:1:x", "x"), "k")
    assert r.status_code == 404 and "no webhook secret" in r.json()["error"]


async def test_events_are_retried_while_the_api_is_down(h: SimHarness) -> None:
    h.sim.poster.backoff = 0.01
    h.receiver.fail_next = 3
    sid = "O-7:1:wh-reno"
    await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), sid)
    await h.receiver.wait_for(lambda: len(h.receiver.types(sid)) == 3)
    assert h.receiver.types(sid) == LIFECYCLE
    assert h.receiver.attempts == 6
    assert h.sim.poster.posted[0].attempts == 4


async def test_supplier_purchase_order_lifecycle(h: SimHarness) -> None:
    sid = "O-8:1:ds-portland"
    po = {
        "po_id": f"PO-{sid}",
        "shipment_id": sid,
        "order_id": "O-8",
        "supplier": "ds-portland",
        "service": "ground",
        "lines": [{"line_id": "1", "sku": "SUP-BOARD", "qty": 1, "unit_cost": money("420.00")}],
        "ship_to": ADDRESS,
    }
    r = await h.post("/suppliers/ds-portland/purchase-orders", po, f"po:PO-{sid}")
    assert r.status_code == 202 and r.json()["po_id"] == f"PO-{sid}"
    await h.receiver.wait_for(lambda: len(h.receiver.types(sid)) == 3)
    assert h.receiver.types(sid) == LIFECYCLE
    assert {p for p, _ in h.receiver.events} == {"ds-portland"}
    wrong = await h.post("/suppliers/wh-reno/purchase-orders", po, "other")
    assert wrong.status_code == 422
    late = await h.post(f"/suppliers/ds-portland/purchase-orders/PO-{sid}/cancel", {}, "c")
    assert late.status_code == 409


async def test_carrier_rates_labels_returns_and_voids(h: SimHarness) -> None:
    rate_req = {
        "shipment_id": "O-9:1:wh-reno",
        "order_id": "O-9",
        "ship_from": RENO,
        "ship_to": ADDRESS,
        "parcel": {"weight_lb": "2.5"},
    }
    quotes = (await h.post("/carrier/rates", rate_req, "rates:O-9:1:wh-reno")).json()["quotes"]
    assert {(q["carrier"], q["service"]) for q in quotes} == {
        (c, s) for c in ("UPS-SIM", "FEDEX-SIM") for s in ("ground", "express", "overnight")
    }
    assert all(isinstance(q["amount"]["amount"], str) for q in quotes)
    ground = next(q for q in quotes if q["carrier"] == "UPS-SIM" and q["service"] == "ground")
    assert ground["transit_days"] == 6  # Reno -> New York is zone 8 on the demo rate card

    out = await h.post(
        "/carrier/labels",
        label("O-9:1:wh-reno") | {"rate_id": ground["rate_id"]},
        "label:O-9:1:wh-reno",
    )
    assert out.status_code == 201 and out.json()["cost"] == ground["amount"]
    back = await h.post(
        "/carrier/labels", label("O-9:1:wh-reno", is_return=True), "return-label:O-9:1:wh-reno"
    )
    assert back.json()["is_return"] is True
    lid = out.json()["label_id"]
    assert (await h.post(f"/carrier/labels/{lid}/void", {}, f"void-label:{lid}")).json()[
        "status"
    ] == "voided"
    assert (await h.post(f"/carrier/labels/{lid}/void", {}, "another-key")).status_code == 200
    assert (await h.post("/carrier/labels/lbl_nope/void", {}, "k")).status_code == 404
    effects = await h.effects()
    assert effects["by_subject"] == {
        "label:O-9:1:wh-reno:outbound": 1,
        "label:O-9:1:wh-reno:return": 1,
        f"void:{lid}": 1,
    }
    bad = rate_req | {"ship_to": {"zip": "00000"}}
    assert (await h.post("/carrier/rates", bad, "rates:bad")).status_code == 422


async def test_payment_invariants_hold_in_decimal(h: SimHarness) -> None:
    auth = (
        await h.post("/payments/authorizations", authorize("O-10", "100.30"), "auth:O-10")
    ).json()
    aid = auth["authorization_id"]
    assert auth["amount"] == money("100.30") and auth["status"] == "authorized"
    cap_url = f"/payments/authorizations/{aid}/captures"
    c1 = await h.post(cap_url, capture(aid, "O-10:1:a", "60.10"), "capture:O-10:1:a")
    c2 = await h.post(cap_url, capture(aid, "O-10:1:b", "40.20"), "capture:O-10:1:b")
    assert c2.json()["captured_total"] == money("100.30")  # exact: never through float
    over = await h.post(cap_url, capture(aid, "O-10:1:c", "0.01"), "capture:O-10:1:c")
    assert over.status_code == 409 and "exceeds" in over.json()["error"]
    eur = capture(aid, "O-10:1:d", "1.00") | {"amount": money("1.00", "EUR")}
    assert (await h.post(cap_url, eur, "capture:O-10:1:d")).status_code == 422

    cid = c1.json()["capture_id"]
    refund = {"capture_id": cid, "order_id": "O-10", "seq": 1, "amount": money("60.00")}
    r1 = await h.post(f"/payments/captures/{cid}/refunds", refund, "refund:O-10:1")
    assert r1.status_code == 201 and r1.json()["refunded_total"] == money("60.00")
    too_much = refund | {"seq": 2, "amount": money("0.11")}
    assert (
        await h.post(f"/payments/captures/{cid}/refunds", too_much, "refund:O-10:2")
    ).status_code == 409
    # A refused refund keeps its key: the next refund is a new seq (the same key with another
    # body would be 422).
    rest = refund | {"seq": 3, "amount": money("0.10")}
    assert (
        await h.post(f"/payments/captures/{cid}/refunds", rest, "refund:O-10:3")
    ).status_code == 201


async def test_void_releases_the_remainder_and_blocks_captures(h: SimHarness) -> None:
    aid = (await h.post("/payments/authorizations", authorize("O-11", "80.00"), "a")).json()[
        "authorization_id"
    ]
    await h.post(f"/payments/authorizations/{aid}/captures", capture(aid, "O-11:1:x", "30.00"), "c")
    void = {"authorization_id": aid, "order_id": "O-11", "reason": "cancelled"}
    v = await h.post(f"/payments/authorizations/{aid}/void", void, f"void:{aid}")
    assert v.json() == {"authorization_id": aid, "released": money("50.00"), "status": "voided"}
    again = await h.post(f"/payments/authorizations/{aid}/void", void, "other-key")
    assert again.json()["released"] == money("0.00")
    late = await h.post(
        f"/payments/authorizations/{aid}/captures", capture(aid, "O-11:1:y", "1.00"), "c2"
    )
    assert late.status_code == 409
    assert (await h.effects())["duplicates"] == []


async def test_declines_are_remembered_per_key(h: SimHarness) -> None:
    body = authorize("O-12", "10.00", token="tok_declined")
    first = await h.post("/payments/authorizations", body, "auth:O-12")
    again = await h.post("/payments/authorizations", body, "auth:O-12")
    assert first.status_code == again.status_code == 402
    assert first.json()["error"] == "card_declined"
    assert (await h.effects())["by_key"] == {}


async def test_a_consolidation_group_leaves_as_one_parcel(make_sim: SimFactory) -> None:
    h = await make_sim(accept_delay=0.01, ship_delay=0.01, deliver_delay=5.0)
    grouped = ["O-7:1:wh-reno", "O-8:1:wh-reno"]
    alone = "O-9:1:wh-reno"
    for sid in grouped:
        body = {**fulfilment(sid), "consolidation_group": "CG-O-7:1:wh-reno"}
        assert (await h.post("/nodes/wh-reno/fulfillment-requests", body, sid)).status_code == 202
    await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(alone), alone)
    ids = [*grouped, alone]
    await h.receiver.wait_for(lambda: all("shipment.shipped" in h.receiver.types(s) for s in ids))
    tracking = {
        e["shipment_id"]: e["tracking"]
        for _, e in h.receiver.events
        if e["type"] == "shipment.shipped"
    }
    assert tracking[grouped[0]] == tracking[grouped[1]] != tracking[alone]


async def test_a_stalled_request_is_accepted_and_never_ships(make_sim: SimFactory) -> None:
    h = await make_sim(accept_delay=0.01, ship_delay=0.01, deliver_delay=0.01, stall_rate=1.0)
    sid = "O-10:1:wh-reno"
    await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), sid)
    await h.receiver.wait_for(lambda: bool(h.receiver.types(sid)))
    await _settled(h, sid)
    assert h.receiver.types(sid) == ["fulfillment.accepted"]
    assert h.sim.fulfilments.jobs[sid].status == "stalled"
