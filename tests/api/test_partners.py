"""Partner webhooks: signed shipment events and inventory feeds, and every way they can be wrong."""

from __future__ import annotations

import inspect
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.client import Client, Interceptor, OutboundInterceptor

from activities.inventory import schema
from dom_workflows.order.models import OrderState, ShipmentStatus
from tests.support.api import Api, assert_problem
from workers.client import DomClient


async def _order_with_shipment(
    api: Api, sku: str = "BOOT-HIKE-9", qty: int = 1
) -> tuple[str, str, str]:
    oid = await api.submit(lines=[(sku, qty)])
    state = await api.instructed(oid)
    sh = state.shipments[0]
    return oid, sh.shipment_id, sh.node


def _event(shipment_id: str, type_: str, event_id: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": event_id or f"ev-{uuid.uuid4().hex[:10]}",
        "type": type_,
        "shipment_id": shipment_id,
        **kw,
    }


def _shipment(state: OrderState, shipment_id: str) -> ShipmentStatus:
    return next(s.status for s in state.shipments if s.shipment_id == shipment_id)


async def test_accepted_shipped_delivered_and_duplicates(api: Api) -> None:
    oid, sid, node = await _order_with_shipment(api)
    accepted = _event(sid, "fulfillment.accepted")
    r = await api.signed(node, "events", accepted)
    assert r.status_code == 202, r.text
    assert r.json() == {
        "event_id": accepted["event_id"],
        "order_id": oid,
        "shipment_id": sid,
        "status": "applied",
    }
    await api.until(oid, lambda s: _shipment(s, sid) == ShipmentStatus.ACCEPTED, "accepted")
    # Redelivery: 200, no second effect.
    dup = await api.signed(node, "events", accepted)
    assert dup.status_code == 200 and dup.json()["status"] == "duplicate"
    state = await api.state(oid)
    assert sum(1 for e in state.timeline if e.kind == "accepted") == 1

    shipped = _event(
        sid,
        "shipment.shipped",
        carrier="UPS",
        tracking="1Z999",
        lines=[{"line_id": "1", "sku": "BOOT-HIKE-9", "qty": 1}],
    )
    assert (await api.signed(node, "events", shipped)).status_code == 202
    state = await api.until(oid, lambda s: _shipment(s, sid) == ShipmentStatus.SHIPPED, "shipped")
    sh = state.shipments[0]
    assert (sh.carrier, sh.tracking) == ("UPS", "1Z999") and state.lines[0].shipped == 1

    delivered = _event(sid, "shipment.delivered")
    assert (await api.signed(node, "events", delivered)).status_code == 202
    await api.until(oid, lambda s: _shipment(s, sid) == ShipmentStatus.DELIVERED, "delivered")
    await api.deps.dom.handle(oid).result()  # the time-skipping server runs out any timers

    # After the workflow closed: a remembered event is still a 200 duplicate ...
    again = await api.signed(node, "events", delivered)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # ... and a new one is stored and answered 202 "order-closed": never a final refusal.
    late = _event(sid, "shipment.delivered")
    r = await api.signed(node, "events", late)
    assert r.status_code == 202 and r.json()["status"] == "order-closed", r.text
    assert await _stored_status(api, node, late["event_id"]) == "order-closed"


async def test_rejection_with_reason_reroutes(api: Api) -> None:
    oid, sid, node = await _order_with_shipment(api)
    r = await api.signed(
        node, "events", _event(sid, "fulfillment.rejected", reason="damaged stock")
    )
    assert r.status_code == 202, r.text
    state = await api.until(
        oid, lambda s: len(s.shipments) > 1, "a second shipment after the rejection"
    )
    first = next(s for s in state.shipments if s.shipment_id == sid)
    assert first.status == ShipmentStatus.REJECTED and first.reason == "damaged stock"


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong-secret",
        "other-partners-secret",
        "stale",
        "future",
        "missing",
        "body-changed",
        "garbage-timestamp",
    ],
)
async def test_bad_signatures_are_401_and_change_nothing(api: Api, tamper: str) -> None:
    oid, sid, node = await _order_with_shipment(api)
    before = await api.state(oid)
    ev = _event(sid, "fulfillment.accepted")
    if tamper == "wrong-secret":
        r = await api.signed(node, "events", ev, secret="not-the-secret")
    elif tamper == "other-partners-secret":
        other = next(p for p in api.secrets.partners if p != node)
        r = await api.signed(node, "events", ev, secret=api.secrets.partners[other])
    elif tamper == "stale":
        r = await api.signed(node, "events", ev, at=time.time() - 301)
    elif tamper == "future":
        r = await api.signed(node, "events", ev, at=time.time() + 400)
    elif tamper == "missing":
        r = await api.http.post(f"/v1/partners/{node}/events", json=ev)
    elif tamper == "garbage-timestamp":
        r = await api.signed(node, "events", ev, headers={"X-DOM-Timestamp": "yesterday"})
    else:
        import json

        from dom_workflows.partners import signing

        signed = signing.signed_headers(
            api.secrets.partners[node], json.dumps(ev).encode(), time.time()
        )
        tampered = json.dumps({**ev, "type": "fulfillment.rejected"}).encode()
        r = await api.http.post(f"/v1/partners/{node}/events", content=tampered, headers=signed)
    assert_problem(r, 401, "refused")
    after = await api.state(oid)
    assert _shipment(after, sid) == ShipmentStatus.REQUESTED
    assert after.timeline == before.timeline
    # Nothing remembered either: the correctly signed event still applies.
    ok = await api.signed(node, "events", ev)
    assert ok.status_code == 202 and ok.json()["status"] == "applied"


async def test_unknown_partner_is_401(api: Api) -> None:
    _, sid, _ = await _order_with_shipment(api)
    r = await api.http.post(
        "/v1/partners/nobody/events",
        json=_event(sid, "fulfillment.accepted"),
        headers={"X-DOM-Timestamp": "1", "X-DOM-Signature": "00"},
    )
    assert_problem(r, 401, "nobody", "not configured")


async def test_another_partners_shipment_is_403_and_changes_nothing(api: Api) -> None:
    oid, sid, node = await _order_with_shipment(api)
    other = next(p for p in api.secrets.partners if p != node)
    r = await api.signed(
        other, "events", _event(sid, "shipment.shipped", carrier="UPS", tracking="X")
    )
    assert_problem(r, 403, sid, node, other)
    assert _shipment(await api.state(oid), sid) == ShipmentStatus.REQUESTED


async def test_unknown_order_shipment_and_bad_bodies(api: Api) -> None:
    oid, sid, node = await _order_with_shipment(api)
    cases = [
        (
            _event(f"NOPE-{uuid.uuid4().hex[:6]}:1:{node}", "fulfillment.accepted"),
            404,
            ("does not exist",),
        ),
        (_event(f"{oid}:9:{node}", "fulfillment.accepted"), 404, (f"no shipment {oid}:9:{node}",)),
        (_event("not-a-shipment-id", "fulfillment.accepted"), 404, ("not a DOM shipment id",)),
        (_event(sid, "fulfillment.teleported"), 422, ("type",)),
        ({"type": "fulfillment.accepted", "shipment_id": sid}, 422, ("event_id", "Field required")),
        ({**_event(sid, "fulfillment.accepted"), "colour": "red"}, 422, ("colour", "Extra inputs")),
        (_event(sid, "fulfillment.accepted", order_id="SOMEONE-ELSE"), 422, ("belongs to order",)),
        (
            _event(sid, "shipment.shipped", lines=[{"line_id": "7", "sku": "X", "qty": 1}]),
            422,
            ("line 7", "not part of shipment"),
        ),
        (_event(sid, "shipment.shipped", carrier="C" * 61), 422, ("carrier",)),
    ]
    for body, status, needles in cases:
        assert_problem(await api.signed(node, "events", body), status, *needles)
    raws: list[tuple[bytes, str]] = [
        (b"{oops", "not valid JSON"),
        (b"[]", "valid dictionary"),
        (b"", "empty"),
    ]
    for raw, needle in raws:
        assert_problem(await api.signed(node, "events", raw), 422, needle)
    state = await api.state(oid)
    assert _shipment(state, sid) == ShipmentStatus.REQUESTED and len(state.shipments) == 1


# ----------------------------------------------------------------- inventory feeds
async def test_snapshot_sets_on_hand_once_and_never_touches_reserved(api: Api) -> None:
    _, _, node = await _order_with_shipment(api, "BOOT-HIKE-9", 2)
    on_hand, reserved = await api.position(node, "BOOT-HIKE-9")
    assert reserved == 2  # a fresh ledger: exactly this order's units
    feed: dict[str, Any] = {
        "feed_id": f"feed-{uuid.uuid4().hex[:8]}",
        "node": node,
        "mode": "snapshot",
        "items": [{"sku": "BOOT-HIKE-9", "on_hand": on_hand + 7}],
    }
    r = await api.signed(node, "inventory", feed)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["duplicate"] is False and doc["shortfalls"] == []
    assert doc["changes"] == [
        {
            "sku": "BOOT-HIKE-9",
            "on_hand_before": on_hand,
            "on_hand_after": on_hand + 7,
            "reserved": reserved,
        }
    ]
    assert await api.position(node, "BOOT-HIKE-9") == (on_hand + 7, reserved)
    moves = await api.movements(feed["feed_id"])
    assert [(m.kind, m.on_hand_delta, m.reserved_delta) for m in moves] == [("snapshot", 7, 0)]
    # The same feed id again: the first answer, flagged, and no second movement.
    again = await api.signed(
        node, "inventory", {**feed, "items": [{"sku": "BOOT-HIKE-9", "on_hand": 1}]}
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["changes"] == doc["changes"]
    assert await api.position(node, "BOOT-HIKE-9") == (on_hand + 7, reserved)
    assert len(await api.movements(feed["feed_id"])) == 1
    view = (await api.http.get("/v1/inventory/BOOT-HIKE-9")).json()
    row = next(n for n in view["nodes"] if n["node"] == node)
    assert (row["on_hand"], row["reserved"]) == (on_hand + 7, reserved)


async def test_delta_and_snapshot_below_reserved_is_clamped_and_reported(api: Api) -> None:
    _, _, node = await _order_with_shipment(api, "BOOT-HIKE-9", 2)
    on_hand, reserved = await api.position(node, "BOOT-HIKE-9")
    delta: dict[str, Any] = {
        "feed_id": f"d-{uuid.uuid4().hex[:8]}",
        "node": node,
        "mode": "delta",
        "items": [{"sku": "BOOT-HIKE-9", "delta": -1}],
    }
    r = await api.signed(node, "inventory", delta)
    assert r.status_code == 200 and r.json()["changes"][0]["on_hand_after"] == on_hand - 1
    assert [m.kind for m in await api.movements(delta["feed_id"])] == ["adjustment"]
    low: dict[str, Any] = {
        "feed_id": f"s-{uuid.uuid4().hex[:8]}",
        "node": node,
        "mode": "snapshot",
        "items": [{"sku": "BOOT-HIKE-9", "on_hand": 0}],
    }
    r = await api.signed(node, "inventory", low)
    assert r.status_code == 200, r.text
    [shortfall] = r.json()["shortfalls"]
    assert shortfall["reported_on_hand"] == 0 and shortfall["reserved"] == reserved
    assert "reserved" in shortfall["detail"]
    assert await api.position(node, "BOOT-HIKE-9") == (reserved, reserved)
    [move] = await api.movements(low["feed_id"])
    assert "clamped" in move.note and move.reserved_delta == 0


async def test_bad_feeds_are_refused_and_change_nothing(api: Api) -> None:
    node = "wh-reno"
    before = await api.position(node, "FLEECE-M")
    good: dict[str, Any] = {
        "feed_id": f"f-{uuid.uuid4().hex[:8]}",
        "node": node,
        "mode": "snapshot",
        "items": [{"sku": "FLEECE-M", "on_hand": 3}],
    }
    assert_problem(await api.signed(node, "inventory", good, secret="wrong"), 401, "signature")
    assert_problem(
        await api.signed(node, "inventory", good, at=time.time() - 1000), 401, "limit 300"
    )
    assert_problem(await api.signed("wh-dallas", "inventory", good), 403, "wh-dallas", node)
    bad: list[tuple[dict[str, Any], int, tuple[str, ...]]] = [
        ({**good, "node": "wh-atlantis"}, 404, ("wh-atlantis",)),
        (
            {
                **good,
                "items": [{"sku": "FLEECE-M", "on_hand": 3}, {"sku": "NO-SUCH", "on_hand": 1}],
            },
            422,
            ("NO-SUCH", "nothing"),
        ),
        (
            {**good, "items": [{"sku": "FLEECE-M", "delta": 3}]},
            422,
            ("snapshot item needs on_hand",),
        ),
        ({**good, "mode": "delta"}, 422, ("delta item needs delta",)),
        (
            {
                **good,
                "items": [{"sku": "FLEECE-M", "on_hand": 3}, {"sku": "FLEECE-M", "on_hand": 4}],
            },
            422,
            ("twice",),
        ),
        ({**good, "items": [{"sku": "FLEECE-M", "on_hand": -3}]}, 422, ("on_hand",)),
        ({**good, "items": []}, 422, ("items",)),
        ({**good, "mode": "guess"}, 422, ("mode",)),
    ]
    for body, status, needles in bad:
        assert_problem(await api.signed(node, "inventory", body), status, *needles)
    assert_problem(await api.signed(node, "inventory", b"nope"), 422, "not valid JSON")
    assert await api.position(node, "FLEECE-M") == before
    assert await api.movements(good["feed_id"]) == []
    # And the refused feed id was not burnt: the correct feed still applies.
    ok = await api.signed(node, "inventory", good)
    assert ok.status_code == 200 and ok.json()["duplicate"] is False
    assert (await api.position(node, "FLEECE-M"))[0] == 3


async def test_an_inventory_feed_wakes_the_orders_waiting_for_that_sku(api: Api) -> None:
    sku = "HAMMOCK"
    pos = schema.inventory_positions
    async with api.engine.begin() as conn:  # sold out everywhere: ATP 0 at every node
        await conn.execute(pos.update().where(pos.c.sku == sku).values(on_hand=pos.c.safety_stock))
    order_id = await api.submit(lines=[(sku, 2)])
    await api.until(
        order_id,
        lambda s: s.lines[0].backordered == 2 and s.backorder_workflow_id is not None,
        "backorder",
    )
    on_hand, _ = await api.position("wh-columbus", sku)
    feed = {
        "feed_id": f"feed-{uuid.uuid4().hex[:8]}",
        "node": "wh-columbus",
        "mode": "delta",
        "items": [{"sku": sku, "delta": 5}],
    }
    r = await api.signed("wh-columbus", "inventory", feed)
    assert r.status_code == 200, r.text
    # Exact: the woken units are released from the backorder (backordered 0) *before* they are
    # routed, so "backordered == 0" alone also holds while re-routing is under way.
    state = await api.until(
        order_id,
        lambda s: (
            s.lines[0].backordered == 0
            and s.lines[0].allocated == 2
            and sum(sh.units for sh in s.shipments) == 2
        ),
        "the backorder routed",
    )
    assert [(sh.node, sh.lines[0].qty) for sh in state.shipments] == [("wh-columbus", 2)]
    assert await api.position("wh-columbus", sku) == (on_hand + 5, 2)


# ----------------------------------------------------------------- Temporal calls per event
class _CountingOutbound(OutboundInterceptor):
    """Counts every client call (signal, query, update, describe, start, ...) by name."""

    def __init__(self, nxt: OutboundInterceptor, calls: Counter[str]) -> None:
        super().__init__(nxt)
        self.calls = calls


def _counted(name: str) -> Callable[[_CountingOutbound, Any], Awaitable[Any]]:
    async def call(self: _CountingOutbound, input: Any) -> Any:
        self.calls[name] += 1
        return await getattr(self.next, name)(input)

    return call


for _name, _ in inspect.getmembers(OutboundInterceptor, inspect.iscoroutinefunction):
    if not _name.startswith("_"):
        setattr(_CountingOutbound, _name, _counted(_name))


class _Counting(Interceptor):
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _CountingOutbound(next, self.calls)


def _count_api_calls(api: Api, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """From now on the API talks to Temporal through a client that counts its calls."""
    counting = _Counting()
    dom = api.deps.dom
    client = Client(**{**dom.client.config(), "interceptors": [counting]})
    monkeypatch.setattr(api.deps, "dom", DomClient(client, dom.task_queue))
    return counting.calls


async def test_each_partner_event_costs_exactly_one_signal_and_no_query(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid, sid, node = await _order_with_shipment(api)
    calls = _count_api_calls(api, monkeypatch)
    line = [{"line_id": "1", "sku": "BOOT-HIKE-9", "qty": 1}]
    events = [
        (_event(sid, "fulfillment.accepted"), ShipmentStatus.ACCEPTED),
        (_event(sid, "shipment.shipped", carrier="UPS", tracking="1Z", lines=line), None),
        (_event(sid, "shipment.delivered"), ShipmentStatus.DELIVERED),
    ]
    for ev, _ in events:
        before = calls.copy()
        r = await api.signed(node, "events", ev)
        assert r.status_code == 202 and r.json()["status"] == "applied", r.text
        assert calls - before == Counter({"signal_workflow": 1}), (ev["type"], calls - before)
    # The signals took effect (checked through the uncounted client, after the counting).
    counted = calls.copy()
    monkeypatch.undo()
    await api.until(oid, lambda s: _shipment(s, sid) == ShipmentStatus.DELIVERED, "delivered")
    assert counted == Counter({"signal_workflow": 3})


async def test_refused_events_cost_no_temporal_call(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid, sid, node = await _order_with_shipment(api)
    other = next(p for p in api.secrets.partners if p != node)
    calls = _count_api_calls(api, monkeypatch)
    refused = [
        (other, _event(sid, "fulfillment.accepted"), 403),
        (node, _event(f"{oid}:9:{node}", "fulfillment.accepted"), 404),
        (node, _event(f"NOPE-{uuid.uuid4().hex[:6]}:1:{node}", "fulfillment.accepted"), 404),
        (
            node,
            _event(sid, "shipment.shipped", lines=[{"line_id": "1", "sku": "X", "qty": 2}]),
            422,
        ),
    ]
    for partner, ev, status in refused:
        assert_problem(await api.signed(partner, "events", ev), status)
    assert calls == Counter()


# ----------------------------------------------------------------- events after the order closed
async def _cancelled_order(api: Api, qty: int) -> tuple[str, str, str]:
    """An order whose only shipment the DOM cancelled (every unit released), now closed."""
    oid, sid, node = await _order_with_shipment(api, "BOOT-HIKE-9", qty)
    r = await api.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "changed mind"})
    assert r.status_code == 200, r.text
    await api.deps.dom.handle(oid).result()
    res = schema.reservations
    async with api.engine.connect() as conn:
        statuses = (
            await conn.execute(sa.select(res.c.status).where(res.c.shipment_id == sid))
        ).scalars()
        assert set(statuses) == {"released"}
    return oid, sid, node


async def _escalations(api: Api, shipment_id: str) -> list[Any]:
    esc = schema.escalations
    async with api.engine.connect() as conn:
        rows = await conn.execute(sa.select(esc).where(esc.c.shipment_id == shipment_id))
        return list(rows)


async def test_shipped_after_the_dom_cancelled_and_the_order_closed_is_recorded_once(
    api: Api,
) -> None:
    oid, sid, node = await _cancelled_order(api, 2)
    on_hand, reserved = await api.position(node, "BOOT-HIKE-9")
    shipped = _event(sid, "shipment.shipped", carrier="UPS", tracking="1ZLATE")
    r = await api.signed(node, "events", shipped)
    assert r.status_code == 202, r.text
    assert r.json() == {
        "event_id": shipped["event_id"],
        "order_id": oid,
        "shipment_id": sid,
        "status": "recorded-after-close",
    }
    # The two units physically left: on_hand drops by exactly 2, with one movement saying why.
    assert await api.position(node, "BOOT-HIKE-9") == (on_hand - 2, reserved)
    [move] = await api.movements(f"partner-event:{node}:{shipped['event_id']}")
    assert (move.kind, move.on_hand_delta, move.order_id) == ("unplanned-outbound", -2, oid)
    [esc] = await _escalations(api, sid)
    assert esc.order_id == oid and "1ZLATE" in esc.message
    assert await _stored_status(api, node, shipped["event_id"]) == "recorded-after-close"
    # Redelivery: a duplicate, nothing taken twice.
    again = await api.signed(node, "events", shipped)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert await api.position(node, "BOOT-HIKE-9") == (on_hand - 2, reserved)
    assert len(await _escalations(api, sid)) == 1


async def _stored_status(api: Api, partner: str, event_id: str) -> str | None:
    ev = schema.partner_events
    async with api.engine.connect() as conn:
        status: str | None = (
            await conn.execute(
                sa.select(ev.c.status).where(ev.c.partner_id == partner, ev.c.event_id == event_id)
            )
        ).scalar_one_or_none()
        return status


async def test_other_events_after_close_are_recorded_202_and_change_nothing(api: Api) -> None:
    oid, sid, node = await _cancelled_order(api, 1)
    on_hand = await api.position(node, "BOOT-HIKE-9")
    for type_ in ("fulfillment.accepted", "fulfillment.rejected", "shipment.delivered"):
        ev = _event(sid, type_)
        r = await api.signed(node, "events", ev)
        assert r.status_code == 202, r.text
        assert r.json() == {
            "event_id": ev["event_id"],
            "order_id": oid,
            "shipment_id": sid,
            "status": "order-closed",
        }
        assert await _stored_status(api, node, ev["event_id"]) == "order-closed"
        again = await api.signed(node, "events", ev)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert await api.position(node, "BOOT-HIKE-9") == on_hand
    assert await _escalations(api, sid) == []


async def test_shipped_after_close_of_a_shipment_that_was_not_released_is_recorded_only(
    api: Api,
) -> None:
    oid, sid, node = await _order_with_shipment(api)
    for type_ in ("fulfillment.accepted", "shipment.shipped", "shipment.delivered"):
        assert (await api.signed(node, "events", _event(sid, type_))).status_code == 202
    await api.deps.dom.handle(oid).result()
    on_hand = await api.position(node, "BOOT-HIKE-9")
    late = _event(sid, "shipment.shipped", carrier="UPS", tracking="AGAIN")
    r = await api.signed(node, "events", late)
    assert r.status_code == 202 and r.json()["status"] == "order-closed", r.text
    assert await api.position(node, "BOOT-HIKE-9") == on_hand
    assert await _escalations(api, sid) == []
