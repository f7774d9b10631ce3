"""What partners hold, as reconciliation asks for it: the listing endpoints, their filters, their
cursors, capture voids and dropped events."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.simulator.bodies import authorize, capture, fulfilment, label, money
from tests.support.sim import SimFactory, SimHarness


async def _all(h: SimHarness, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item, following the cursor page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        r = await h.http.get(path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def _settled(h: SimHarness, shipment_id: str) -> None:
    task = h.sim.fulfilments.jobs[shipment_id].task
    assert task is not None
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 5)
    await h.sim.poster.drain()


async def test_a_node_lists_its_requests_with_lines_events_and_status_filter(
    make_sim: SimFactory,
) -> None:
    h = await make_sim(reject_rate=1.0)
    for sid, node in [("L-1:1:wh-reno", "wh-reno"), ("L-2:1:wh-dallas", "wh-dallas")]:
        await h.post(f"/nodes/{node}/fulfillment-requests", fulfilment(sid, node), sid)
        await _settled(h, sid)
    items = await _all(h, "/nodes/wh-reno/fulfillment-requests")
    assert [i["shipment_id"] for i in items] == ["L-1:1:wh-reno"]  # only this node's
    only = items[0]
    assert only["status"] == "rejected"
    assert only["lines"] == [{"line_id": "1", "sku": "FLEECE-M", "qty": 2}]
    assert [e["event_id"] for e in only["events"]] == ["L-1:1:wh-reno:rejected"]
    assert only["events"][0]["reason"]
    assert datetime.fromisoformat(only["updated_at"]) >= datetime.fromisoformat(only["created_at"])
    assert await _all(h, "/nodes/wh-reno/fulfillment-requests", status="shipped,accepted") == []
    rejected = await _all(h, "/nodes/wh-reno/fulfillment-requests", status="rejected")
    assert len(rejected) == 1


async def test_pages_follow_the_cursor_and_since_leaves_out_older_changes(h: SimHarness) -> None:
    auth = (await h.post("/payments/authorizations", authorize("P-1", "900.00"), "a1")).json()
    for n in range(5):
        sid = f"P-1:{n + 1}:wh-reno"
        url = f"/payments/authorizations/{auth['authorization_id']}/captures"
        r = await h.post(url, capture(auth["authorization_id"], sid, "10.00"), f"c{n}")
        assert r.status_code == 201
    first = (await h.http.get("/payments/captures", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    everything = await _all(h, "/payments/captures", limit=2)
    assert [c["shipment_id"] for c in everything] == [f"P-1:{n}:wh-reno" for n in range(1, 6)]
    assert {c["order_id"] for c in everything} == {"P-1"}
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert await _all(h, "/payments/captures", since=later) == []
    earlier = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert len(await _all(h, "/payments/captures", since=earlier)) == 5
    auths = await _all(h, "/payments/authorizations")
    assert auths[0]["captured"] == money("50.00") and auths[0]["status"] == "partially_captured"


async def test_a_voided_capture_is_no_longer_charged_and_refunds_are_listed(
    h: SimHarness,
) -> None:
    auth = (await h.post("/payments/authorizations", authorize("V-1", "100.00"), "a")).json()
    aid = auth["authorization_id"]
    url = f"/payments/authorizations/{aid}/captures"
    one = (await h.post(url, capture(aid, "V-1:1:wh-reno", "30.00"), "c1")).json()
    two = (await h.post(url, capture(aid, "V-1:2:wh-reno", "20.00"), "c2")).json()
    void = f"/payments/captures/{one['capture_id']}/void"
    r = await h.post(void, {"reason": "orphan"}, "void-1")
    assert r.status_code == 200 and r.json()["status"] == "voided"
    again = await h.post(void, {"reason": "orphan"}, "void-1b")  # another key: nothing more
    assert again.status_code == 200
    assert (await h.http.get(f"/payments/authorizations/{aid}")).json()["captured"] == money(
        "20.00"
    )
    refund = {"capture_id": two["capture_id"], "order_id": "V-1", "seq": 1, "amount": money("5")}
    r = await h.post(f"/payments/captures/{two['capture_id']}/refunds", refund, "r1")
    assert r.status_code == 201
    refunds = await _all(h, "/payments/refunds")
    assert [(x["capture_id"], x["order_id"], x["seq"]) for x in refunds] == [
        (two["capture_id"], "V-1", 1)
    ]
    refused = await h.post(f"/payments/captures/{two['capture_id']}/void", {}, "void-2")
    assert refused.status_code == 409  # refunded in part: cannot be voided
    statuses = {c["capture_id"]: c["status"] for c in await _all(h, "/payments/captures")}
    assert statuses == {one["capture_id"]: "voided", two["capture_id"]: "captured"}
    assert (await h.effects())["duplicates"] == []


async def test_labels_are_listed_with_their_voided_flag(h: SimHarness) -> None:
    made = (await h.post("/carrier/labels", label("B-1:1:store-nyc"), "label:B-1")).json()
    await h.post("/carrier/labels", label("B-2:1:store-nyc"), "label:B-2")
    await h.post(f"/carrier/labels/{made['label_id']}/void", {}, "void-label")
    labels = {x["shipment_id"]: x for x in await _all(h, "/carrier/labels")}
    assert labels["B-1:1:store-nyc"]["voided"] is True
    assert labels["B-1:1:store-nyc"]["order_id"] == "B-1"
    assert labels["B-2:1:store-nyc"]["voided"] is False


async def test_bad_listing_parameters_are_refused_with_the_reason(h: SimHarness) -> None:
    for path, params, word in [
        ("/payments/captures", {"since": "yesterday"}, "since"),
        ("/payments/captures", {"since": "2024-01-01T00:00:00"}, "time zone"),
        ("/carrier/labels", {"limit": "0"}, "limit"),
        ("/payments/refunds", {"cursor": "!!"}, "cursor"),
        ("/nodes/wh-reno/fulfillment-requests", {"status": "lost"}, "status"),
    ]:
        r = await h.http.get(path, params=params)
        assert r.status_code == 422 and word in r.json()["error"], (path, r.text)


async def test_dropped_events_are_recorded_at_the_node_but_never_posted(
    make_sim: SimFactory,
) -> None:
    h = await make_sim(reject_rate=1.0, drop_events=["fulfillment.rejected"])
    sid = "D-1:1:wh-reno"
    await h.post("/nodes/wh-reno/fulfillment-requests", fulfilment(sid), sid)
    await _settled(h, sid)
    assert h.receiver.events == []
    [job] = await _all(h, "/nodes/wh-reno/fulfillment-requests")
    assert job["status"] == "rejected" and job["events"][0]["type"] == "fulfillment.rejected"
