"""No partner event is ever lost: every accepted event is stored before the API answers 2xx,
a signal Temporal refuses leaves it pending for the worker's delivery loop, a database that
cannot store it is a 503 with Retry-After, and events for closed orders are recorded for ops and
reconciliation instead of refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from temporalio.client import Client, Interceptor, OutboundInterceptor, SignalWorkflowInput
from temporalio.service import RPCError, RPCStatusCode

from activities.inventory import schema
from activities.partner_events import store
from activities.partner_events.delivery import deliver_due
from activities.partner_events.findings import stored_event_findings
from activities.reconcile.reconciler import Reconciler
from dom_workflows.order.models import OrderState, ShipmentEvent, ShipmentStatus
from tests.support.api import Api, assert_problem
from workers.client import DomClient
from workers.partner_events import delivering


class _RefuseSignals(OutboundInterceptor):
    """Temporal refuses the next `times` signals with `status`, then behaves."""

    def __init__(self, nxt: OutboundInterceptor, refusals: _Refusing) -> None:
        super().__init__(nxt)
        self.refusals = refusals

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        self.refusals.attempts += 1
        if self.refusals.left > 0:
            self.refusals.left -= 1
            raise RPCError("refused by the test", self.refusals.status, b"")
        await super().signal_workflow(input)


class _Refusing(Interceptor):
    def __init__(self, status: RPCStatusCode, times: int) -> None:
        self.status, self.left, self.attempts = status, times, 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _RefuseSignals(next, self)


def _refuse_signals(
    api: Api, monkeypatch: pytest.MonkeyPatch, status: RPCStatusCode, times: int = 1
) -> _Refusing:
    """From now on the API's Temporal client refuses the next `times` signals."""
    refusing = _Refusing(status, times)
    dom = api.deps.dom
    client = Client(**{**dom.client.config(), "interceptors": [refusing]})
    monkeypatch.setattr(api.deps, "dom", DomClient(client, dom.task_queue))
    return refusing


async def _order(api: Api) -> tuple[str, str, str]:
    oid = await api.submit(lines=[("BOOT-HIKE-9", 1)])
    sh = (await api.instructed(oid)).shipments[0]
    return oid, sh.shipment_id, sh.node


def _event(shipment_id: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{uuid.uuid4().hex[:10]}",
        "type": type_,
        "shipment_id": shipment_id,
        **kw,
    }


def _status(state: OrderState, sid: str) -> ShipmentStatus:
    return next(s.status for s in state.shipments if s.shipment_id == sid)


async def _row(api: Api, partner: str, event_id: str) -> Any:
    ev = schema.partner_events
    async with api.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(ev).where(ev.c.partner_id == partner, ev.c.event_id == event_id)
            )
        ).one()


async def _make_due(api: Api, event_id: str) -> None:
    """As if the event's backoff had passed."""
    ev = schema.partner_events
    async with api.engine.begin() as conn:
        await conn.execute(
            ev.update()
            .where(ev.c.event_id == event_id)
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


@pytest.mark.parametrize(
    "refusal",
    [RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.DEADLINE_EXCEEDED],
    ids=lambda code: code.name,
)
async def test_a_signal_temporal_refuses_is_stored_pending_and_answered_202(
    api: Api, monkeypatch: pytest.MonkeyPatch, refusal: RPCStatusCode
) -> None:
    oid, sid, node = await _order(api)
    refusing = _refuse_signals(api, monkeypatch, refusal)
    ev = _event(sid, "fulfillment.accepted")
    r = await api.signed(node, "events", ev)
    assert r.status_code == 202, r.text
    assert r.json() == {
        "event_id": ev["event_id"],
        "order_id": oid,
        "shipment_id": sid,
        "status": "pending",
    }
    row = await _row(api, node, ev["event_id"])
    assert (row.status, row.attempts, row.order_id) == ("pending", 1, oid)
    assert refusal.name in row.last_error
    # The partner's retry is a duplicate: it must not post again, the DOM owns delivery now.
    again = await api.signed(node, "events", ev)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert refusing.attempts == 1
    assert _status(await api.state(oid), sid) == ShipmentStatus.REQUESTED


async def test_the_delivery_loop_delivers_a_refused_event_with_its_own_event_id(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid, sid, node = await _order(api)
    _refuse_signals(api, monkeypatch, RPCStatusCode.UNAVAILABLE)
    ev = _event(sid, "fulfillment.accepted")
    assert (await api.signed(node, "events", ev)).json()["status"] == "pending"
    # Not due yet (its backoff): a pass leaves it alone.
    assert (await deliver_due(api.engine, api.deps.dom.client)).tried == 0
    await _make_due(api, ev["event_id"])
    async with delivering(api.deps.dom.client, api.engine, every=0.05):
        state = await api.until(
            oid, lambda s: _status(s, sid) == ShipmentStatus.ACCEPTED, "accepted by the loop"
        )
    row = await _row(api, node, ev["event_id"])
    assert row.status == "delivered" and row.settled_at is not None
    accepted = [e for e in state.timeline if e.kind == "accepted"]
    assert len(accepted) == 1
    # Delivered again (a second worker's loop, a reconciliation): the order ignores it.
    await api.deps.dom.send_shipment_event(oid, store.StoredEvent.of(row).signal)
    state = await api.state(oid)
    assert len([e for e in state.timeline if e.kind == "accepted"]) == 1


async def test_a_pending_event_whose_order_closed_meanwhile_is_settled_for_the_closed_order(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid, sid, node = await _order(api)
    _refuse_signals(api, monkeypatch, RPCStatusCode.UNAVAILABLE)
    ev = _event(sid, "fulfillment.accepted")
    assert (await api.signed(node, "events", ev)).json()["status"] == "pending"
    r = await api.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "changed mind"})
    assert r.status_code == 200, r.text
    await api.deps.dom.handle(oid).result()
    sweep = await deliver_due(
        api.engine, api.deps.dom.client, now=datetime.now(UTC) + timedelta(minutes=10)
    )
    assert (sweep.delivered, sweep.closed, sweep.pending) == (0, 1, 0)
    assert (await _row(api, node, ev["event_id"])).status == "order-closed"


async def test_an_event_the_database_cannot_store_is_a_503_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    oid, sid, node = await _order(api)
    refusing = _refuse_signals(api, monkeypatch, RPCStatusCode.UNAVAILABLE, times=0)
    down = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/dom.db")
    monkeypatch.setattr(api.deps, "engine", down)
    ev = _event(sid, "fulfillment.accepted")
    r = await api.signed(node, "events", ev)
    assert_problem(r, 503, "could not store", ev["event_id"], "post it again")
    assert r.headers["Retry-After"] == "5"
    assert r.json()["type"].endswith("/storage-unavailable")
    assert refusing.attempts == 0  # nothing signalled what was not stored
    await down.dispose()
    monkeypatch.setattr(api.deps, "engine", api.engine)
    # Once the database is back, the partner's retry is applied.
    ok = await api.signed(node, "events", ev)
    assert ok.status_code == 202 and ok.json()["status"] == "applied", ok.text
    await api.until(oid, lambda s: _status(s, sid) == ShipmentStatus.ACCEPTED, "accepted")


async def test_a_delivered_event_after_close_updates_the_shipment_outcome_record(
    api: Api,
) -> None:
    oid, sid, node = await _order(api)
    line = [{"line_id": "1", "sku": "BOOT-HIKE-9", "qty": 1}]
    for ev in (
        _event(sid, "fulfillment.accepted"),
        _event(sid, "shipment.shipped", carrier="UPS", tracking="1Z", lines=line),
    ):
        assert (await api.signed(node, "events", ev)).status_code == 202
    await api.until(oid, lambda s: _status(s, sid) == ShipmentStatus.SHIPPED, "shipped")
    # The order ends before the delivery is reported (here: ended by hand; in production, its
    # delivery wait ran out).
    await api.deps.dom.handle(oid).terminate("the test ends the order before the delivery")
    out = schema.shipment_outcomes
    async with api.engine.connect() as conn:
        before = (await conn.execute(sa.select(out).where(out.c.shipment_id == sid))).one()
    assert before.status == "shipped" and before.delivered_at is None
    at = datetime(2026, 1, 2, 15, 30, tzinfo=UTC)
    late = _event(sid, "shipment.delivered", occurred_at=at.isoformat())
    r = await api.signed(node, "events", late)
    assert r.status_code == 202 and r.json()["status"] == "order-closed", r.text
    async with api.engine.connect() as conn:
        after = (await conn.execute(sa.select(out).where(out.c.shipment_id == sid))).one()
    assert after.status == "delivered"
    assert after.delivered_at.replace(tzinfo=UTC) == at


async def test_reconciliation_reads_stored_events_redelivers_pending_escalates_after_close(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid, sid, node = await _order(api)
    _refuse_signals(api, monkeypatch, RPCStatusCode.UNAVAILABLE)
    pending = _event(sid, "fulfillment.accepted")
    assert (await api.signed(node, "events", pending)).json()["status"] == "pending"
    # A shipment the DOM cancelled, shipped after its order closed.
    monkeypatch.undo()
    coid, csid, cnode = await _order(api)
    r = await api.http.post(f"/v1/orders/{coid}/cancel", json={"reason": "changed mind"})
    assert r.status_code == 200, r.text
    await api.deps.dom.handle(coid).result()
    shipped = _event(csid, "shipment.shipped", carrier="UPS", tracking="1ZLATE")
    assert (await api.signed(cnode, "events", shipped)).json()["status"] == "recorded-after-close"

    now = datetime.now(UTC)
    found = {
        f.key: f
        for f in await stored_event_findings(api.engine, now - timedelta(hours=1), now)
        if f.order_id in (oid, coid)
    }
    assert set(found) == {f"undelivered-event:{sid}", f"event-after-close:{csid}"}
    redeliver = found[f"undelivered-event:{sid}"].repair
    assert redeliver is not None and redeliver.kind == "redeliver-events"
    assert [e.event_id for e in redeliver.events] == [pending["event_id"]]
    escalate = found[f"event-after-close:{csid}"]
    assert escalate.repair is None and escalate.evidence["tracking"] == "1ZLATE"
    # The repair re-delivers the stored event and settles it: the next run finds nothing.
    async with httpx.AsyncClient() as http:
        reconciler = Reconciler(
            api.deps.dom.client,
            api.engine,
            api.deps.network,
            http,
            payment_url=None,
            carrier_url=None,
        )
        ok, detail = await reconciler.repair(found[f"undelivered-event:{sid}"])
    assert ok and pending["event_id"] in detail, detail
    await api.until(oid, lambda s: _status(s, sid) == ShipmentStatus.ACCEPTED, "re-delivered")
    assert (await _row(api, node, pending["event_id"])).status == "delivered"
    again = await stored_event_findings(api.engine, now - timedelta(hours=1), now)
    assert [f.key for f in again if f.order_id == oid] == []
    # Not yet settled (received after the cutoff): not reported, its delivery is under way.
    recent = await stored_event_findings(
        api.engine, now - timedelta(hours=1), now - timedelta(hours=1)
    )
    assert not [f for f in recent if f.kind == "undelivered-event" and f.order_id == oid]


async def test_the_store_keeps_one_row_per_event_and_settles_it_once(
    ledger_engine: AsyncEngine,
) -> None:
    """On SQLite and PostgreSQL: a concurrent repeat is refused by the unique key, a failed
    attempt backs off, a row is settled once."""
    signal = ShipmentEvent(
        event_id=f"ev-{uuid.uuid4().hex[:8]}", shipment_id="ST-1:1:wh-reno", type="accepted"
    )
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    kw: dict[str, Any] = {"partner_id": "wh-reno", "partner_type": "fulfillment.accepted"}
    first = await store.record(ledger_engine, order_id="ST-1", signal=signal, now=at, **kw)
    assert first is not None and first.status == "pending"
    assert await store.record(ledger_engine, order_id="ST-1", signal=signal, now=at, **kw) is None
    # Another partner may use the same event id: it is a different event.
    other = await store.record(
        ledger_engine,
        order_id="ST-1",
        signal=signal,
        now=at,
        partner_id="wh-dallas",
        partner_type="fulfillment.accepted",
    )
    assert other is not None and other.id != first.id
    found = await store.find(ledger_engine, "wh-reno", signal.event_id)
    assert found is not None and found.signal == signal and found.received_at == at
    assert await store.due(ledger_engine, at) == []  # the request's own attempt comes first
    await store.failed(ledger_engine, first, "UNAVAILABLE: down", at)
    assert [e.id for e in await store.due(ledger_engine, at + timedelta(seconds=9))] == []
    [due] = [
        e for e in await store.due(ledger_engine, at + timedelta(seconds=10)) if e.id == first.id
    ]
    assert (due.attempts, due.last_error) == (1, "UNAVAILABLE: down")
    assert await store.settle(ledger_engine, first.id, "delivered", at) is True
    assert await store.settle(ledger_engine, first.id, "order-closed", at) is False
    stored = await store.find(ledger_engine, "wh-reno", signal.event_id)
    assert stored is not None and stored.status == "delivered"
    assert await store.settle_redelivered(ledger_engine, "ST-1", [signal.event_id], at) == 1
    dallas = await store.find(ledger_engine, "wh-dallas", signal.event_id)
    assert dallas is not None and dallas.status == "delivered"
