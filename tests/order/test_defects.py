"""Regression tests for the defects of the rebuilt order core: malformed signals, holds that
land mid-step, units left reserved after the order closes, shipments that leave after they
were cancelled, refused cancellations, search-attribute churn, and the static summary."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.converter import decode_search_attributes
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.inventory import ledger, schema
from activities.inventory.activities import InventoryActivities
from activities.inventory.verify import verify
from dom_workflows.config import Settings
from dom_workflows.consolidation.models import consolidation_workflow_id
from dom_workflows.consolidation.workflows import ConsolidationWorkflow
from dom_workflows.inventory.models import ReserveAndRouteInput, ReserveAndRouteResult
from dom_workflows.network import Network
from dom_workflows.order import names
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    OrderRequest,
    OrderState,
    OrderStatus,
    PlaceHold,
    ReleaseHold,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.harness import OrderHarness, make_order, order_harness, replace_activity
from tests.support.sim import LiveSim
from tests.support.until import until
from workers.client import DomClient
from workers.demo import StreamStats, status_board
from workers.worker import build_worker, client_activities, dependencies

Handle = WorkflowHandle[Any, Any]


# ----------------------------------------------------------------- helpers
async def history(handle: Handle) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


def of_type(events: list[HistoryEvent], kind: EventType.ValueType) -> list[HistoryEvent]:
    return [e for e in events if e.event_type == kind]


def scheduled(events: list[HistoryEvent], activity_type: str) -> int:
    """Calls of `activity_type` in the history: scheduled activities and local-activity markers
    (payments may run either way)."""
    regular = sum(
        1
        for e in of_type(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        if e.activity_task_scheduled_event_attributes.activity_type.name == activity_type
    )
    local = 0
    for e in of_type(events, EventType.EVENT_TYPE_MARKER_RECORDED):
        data = e.marker_recorded_event_attributes.details.get("data")
        if data and data.payloads:
            local += json.loads(data.payloads[0].data).get("activity_type") == activity_type
    return regular + local


def timeline_count(state: OrderState, kind: str, shipment_id: str | None = None) -> int:
    return sum(
        1
        for e in state.timeline
        if e.kind == kind and (shipment_id is None or e.shipment_id == shipment_id)
    )


def requests_seen(sim: LiveSim, shipment_id: str) -> int:
    """Fulfilment requests the simulated node received for the shipment."""
    subjects = sim.effects()["by_subject"]
    return sum(n for s, n in subjects.items() if s.endswith(f"-request:{shipment_id}"))


async def complete(h: OrderHarness, handle: Handle, shipment_id: str) -> None:
    for kind in ("accepted", "shipped", "delivered"):
        await h.event(handle, shipment_id, kind, carrier="UPS", tracking="1Z")


async def closure_row(engine: AsyncEngine, order_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(schema.order_closures).where(schema.order_closures.c.order_id == order_id)
            )
        ).first()
    return dict(row._mapping) if row is not None else None


# ----------------------------------------------------------------- 1. malformed signals
MALFORMED_NOTE = {
    names.SHIPMENT_EVENT: "malformed shipment event",
    names.STOCK_AVAILABLE: "malformed stock notice",
    names.CONSOLIDATED: "malformed consolidation answer",
}


@pytest_asyncio.fixture
async def demo_board(time_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[io.StringIO]:
    """The live board of `dom dev --demo`, running in this process while the worker runs."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    stop = asyncio.Event()
    board = asyncio.create_task(
        status_board(
            time_env.client,
            StreamStats(),
            {"API": "http://x"},
            stop,
            console,
            datetime.now(UTC),
            every=0.05,
            log_path=tmp_path / "worker.log",
        )
    )

    async def shown() -> str:
        return screen.getvalue()

    await until(shown, lambda s: "Demo orders by status" in s, "the live board")
    try:
        yield screen
    finally:
        stop.set()
        await board


@pytest.mark.parametrize("signal", list(MALFORMED_NOTE))
async def test_malformed_signals_are_noted_and_ignored_with_the_demo_board_live(
    signal: str, demo_board: io.StringIO, harness: OrderHarness
) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    sid = (await harness.instructed(handle)).shipments[0].shipment_id
    # A client with Temporal's default converter, signalling by name as any process could.
    raw = Client(harness.client.service_client, namespace=harness.client.namespace)
    raw_handle = raw.get_workflow_handle(handle.id)
    payloads: list[Any] = [
        {"type": "fulfillment.accepted", "shipment_id": sid},  # partner vocabulary, no event_id
        "fulfillment.accepted",
        [sid, "accepted"],
    ]
    for payload in payloads:
        await raw_handle.signal(signal, payload)
    note = MALFORMED_NOTE[signal]
    state = await harness.until(
        handle,
        lambda s: sum(note in e.message for e in s.timeline) == len(payloads),
        f"{len(payloads)} '{note}' notes",
    )
    assert [e.kind for e in state.timeline if note in e.message] == ["ignored"] * len(payloads)
    assert state.shipments[0].status == ShipmentStatus.REQUESTED  # nothing changed
    await complete(harness, handle, sid)
    result = await handle.result()
    assert result.status == OrderStatus.COMPLETED
    events = await history(handle)
    assert of_type(events, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) == []
    assert "Demo orders by status" in demo_board.getvalue()


# ----------------------------------------------------------------- 2. holds mid-step
WINDOW = timedelta(minutes=30)


async def test_a_hold_placed_while_joining_consolidation_stops_the_instruction(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    policy = network.order_policy.model_copy(update={"consolidation_window": WINDOW})
    net = network.model_copy(update={"order_policy": policy})
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, net, task_queue, settings) as h:
        order = make_order([("BOOT-HIKE-9", 1)])
        handle = await h.start(order)
        state = await h.until(handle, lambda s: bool(s.shipments), "routed")
        sid = state.shipments[0].shipment_id
        group = time_env.client.get_workflow_handle(consolidation_workflow_id(order.customer.id))

        async def members() -> list[str]:
            try:
                groups = await group.query(ConsolidationWorkflow.groups)
            except Exception:  # not started yet
                return []
            return [m.shipment_id for g in groups for m in g.members]

        await until(members, lambda ms: sid in ms, "the shipment in its consolidation group")
        await handle.execute_update(OrderWorkflow.place_hold, PlaceHold(reason="address check"))
        await time_env.sleep(WINDOW + timedelta(seconds=1))  # the group answers
        state = await h.until(
            handle, lambda s: s.shipments[0].consolidation_group is not None, "group answer"
        )
        assert state.status == OrderStatus.ON_HOLD
        assert timeline_count(state, "instructed") == 0
        assert scheduled(await history(handle), "instruct_node") == 0
        assert requests_seen(live_sim, sid) == 0

        await handle.execute_update(OrderWorkflow.release_hold, ReleaseHold())
        state = await h.instructed(handle)
        assert timeline_count(state, "instructed") == 1
        assert requests_seen(live_sim, sid) == 1
        await complete(h, handle, sid)
        assert (await handle.result()).status == OrderStatus.COMPLETED
        assert scheduled(await history(handle), "instruct_node") == 1
        assert requests_seen(live_sim, sid) == 1


async def test_a_hold_placed_while_waiting_for_acceptance_defers_the_capture(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(partner_sim_url=live_sim.url, payment_url=f"{live_sim.url}/payments")
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        handle = await h.start(make_order([("TEE-MERINO-M", 1)]))  # 50.00
        sid = (await h.instructed(handle)).shipments[0].shipment_id
        await handle.execute_update(OrderWorkflow.place_hold, PlaceHold(reason="fraud signal"))
        await h.event(handle, sid, "shipped", carrier="UPS", tracking="1Z")
        state = await h.until(handle, lambda s: timeline_count(s, "consumed") == 1, "consumed")
        assert state.payment is not None and state.payment.captured.amount == 0
        assert timeline_count(state, "captured") == 0
        assert scheduled(await history(handle), "capture_payment") == 0
        assert f"capture:{sid}" not in live_sim.effects()["by_subject"]

        await handle.execute_update(OrderWorkflow.release_hold, ReleaseHold())
        state = await h.until(handle, lambda s: timeline_count(s, "captured") == 1, "captured")
        assert state.payment is not None and state.payment.captured.amount == Decimal("50.00")
        await h.event(handle, sid, "delivered")
        assert (await handle.result()).status == OrderStatus.COMPLETED
        final = await h.state(handle)
        assert timeline_count(final, "captured") == 1
        assert scheduled(await history(handle), "capture_payment") == 1
        assert live_sim.effects()["by_subject"].get(f"capture:{sid}") == 1


# ----------------------------------------------------------------- 3. nothing stays reserved
PATHS = [
    "completed",
    "cancelled-by-update",
    "invalid",
    "cancelled-from-temporal",
    "failed-after-reserving",
    "backorder-deadline",
    "hold-timeout",
]


async def drive(path: str, h: OrderHarness) -> tuple[OrderRequest, str]:
    """Take one order down `path` until its workflow has closed."""
    if path == "invalid":
        order = make_order([("BOOT-HIKE-9", 1), ("HAMMOCK", 0)])
    elif path == "failed-after-reserving":
        order = make_order([("SUP-BOARD", 1), ("BOOT-HIKE-9", 1)], zip_code="97217")
    elif path == "backorder-deadline":
        order = make_order([("TREK-POLES", 1)])
    else:
        order = make_order([("BOOT-HIKE-9", 2)])
    handle = await h.start(order)
    if path == "completed":
        sid = (await h.instructed(handle)).shipments[0].shipment_id
        await complete(h, handle, sid)
    elif path == "cancelled-by-update":
        await h.instructed(handle)
        await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="changed mind"))
    elif path == "cancelled-from-temporal":
        await h.instructed(handle)
        await handle.cancel()
    elif path == "failed-after-reserving":
        kept, rejected = (await h.instructed(handle, 2)).shipments
        await h.event(handle, kept.shipment_id, "accepted")
        await h.event(handle, rejected.shipment_id, "rejected", reason="out of stock")
    expected = {
        "completed": OrderStatus.COMPLETED,
        "cancelled-by-update": OrderStatus.CANCELLED,
        "backorder-deadline": OrderStatus.CANCELLED,
        "hold-timeout": OrderStatus.CANCELLED,
    }
    if path in expected:
        assert (await handle.result()).status == expected[path]  # skips SLAs and deadlines
    else:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    if path == "backorder-deadline":
        assert "backorder deadline passed" in ((await h.state(handle)).stop_reason or "")
    if path == "hold-timeout":
        assert "hold not released within" in ((await h.state(handle)).stop_reason or "")
    final = await h.state(handle)
    closed = f"{final.status.value}: " + "; ".join(f"{e.kind}: {e.message}" for e in final.timeline)
    return order, closed


@pytest.mark.parametrize("path", PATHS)
async def test_no_units_stay_reserved_after_the_order_closes(
    path: str,
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
) -> None:
    net = network
    if path == "hold-timeout":
        policy = network.order_policy.model_copy(update={"fraud_review_value": Decimal("1.00")})
        net = network.model_copy(update={"order_policy": policy})
    async with dependencies(Settings(), engine=sqlite_engine, network=net) as deps:
        kwargs: dict[str, Any] = {}
        if path == "failed-after-reserving":
            real = InventoryActivities(deps.engine, deps.network, deps.policy)

            @activity.defn(name="reserve_and_route")
            async def flaky_router(inp: ReserveAndRouteInput) -> ReserveAndRouteResult:
                if inp.attempt > 1:
                    raise ApplicationError("router down", type="RoutingError", non_retryable=True)
                return await real.reserve_and_route(inp)

            kwargs["activities"] = replace_activity(
                deps, "reserve_and_route", flaky_router
            ) + client_activities(time_env.client, task_queue)
        async with build_worker(time_env.client, task_queue, deps, **kwargs):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order, closed = await drive(path, h)

    assert await verify(sqlite_engine) == []
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    assert [r for r in rows if r["status"] == "reserved"] == [], closed
    closure = await closure_row(sqlite_engine, order.order_id)
    if path == "invalid":
        assert rows == []  # nothing was ever reserved
    else:
        assert rows  # the order did reserve, so the check above means something
        assert closure is not None and closure["order_id"] == order.order_id, closed


# ----------------------------------------------------------------- 4. shipped after cancel
async def test_shipped_after_the_dom_cancelled_the_shipment_is_recorded_not_charged(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(payment_url=f"{live_sim.url}/payments")
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        order = make_order([("SUP-BOARD", 1), ("BOOT-HIKE-9", 1)], zip_code="97217")
        handle = await h.start(order)
        state = await h.instructed(handle, 2)
        [gone] = [s for s in state.shipments if any(sl.sku == "BOOT-HIKE-9" for sl in s.lines)]
        [kept] = [s for s in state.shipments if s.shipment_id != gone.shipment_id]
        assert [sl.sku for sl in gone.lines] == ["BOOT-HIKE-9"] and gone.units == 1
        await handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id=gone.lines[0].line_id)])
        )
        state = await h.state(handle)
        by_id = {s.shipment_id: s for s in state.shipments}
        assert by_id[gone.shipment_id].status == ShipmentStatus.CANCELLED
        assert by_id[kept.shipment_id].status.is_open

        pos, mov = schema.inventory_positions, schema.movements

        async def on_hand() -> int:
            async with sqlite_engine.connect() as conn:
                return int(
                    (
                        await conn.execute(
                            sa.select(pos.c.on_hand).where(
                                pos.c.node_id == gone.node, pos.c.sku == "BOOT-HIKE-9"
                            )
                        )
                    ).scalar_one()
                )

        async def outbound() -> list[dict[str, Any]]:
            async with sqlite_engine.connect() as conn:
                rows = await conn.execute(
                    sa.select(mov).where(
                        mov.c.order_id == order.order_id, mov.c.kind == "unplanned-outbound"
                    )
                )
                return [dict(r._mapping) for r in rows]

        on_hand0 = await on_hand()
        assert await outbound() == []
        await h.event(handle, gone.shipment_id, "shipped", carrier="UPS", tracking="1Z-LATE")
        await until(outbound, lambda rows: len(rows) == 1, "the unplanned outbound movement")
        state = await h.state(handle)
        assert any(f"reports {gone.shipment_id} shipped after" in e for e in state.escalations)
        assert timeline_count(state, "ignored", gone.shipment_id) == 0  # not refused
        assert state.status != OrderStatus.COMPLETED

        await complete(h, handle, kept.shipment_id)
        assert (await handle.result()).status == OrderStatus.COMPLETED
        final = await h.state(handle)

    [moved] = await outbound()
    assert (moved["node_id"], moved["sku"], moved["on_hand_delta"]) == (
        gone.node,
        "BOOT-HIKE-9",
        -1,
    )
    assert await on_hand() == on_hand0 - 1
    fin = {s.shipment_id: s for s in final.shipments}
    assert fin[gone.shipment_id].capture_id is None
    assert fin[kept.shipment_id].capture_id is not None
    assert final.payment is not None and final.payment.captured.amount == Decimal("50.00")
    subjects = live_sim.effects()["by_subject"]
    assert f"capture:{gone.shipment_id}" not in subjects
    assert subjects.get(f"capture:{kept.shipment_id}") == 1
    assert await verify(sqlite_engine) == []


# ----------------------------------------------------------------- 5. refused cancels
def assert_cancel_refused(err: WorkflowUpdateFailedError) -> ApplicationError:
    cause = err.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "CancelRefused"
    assert cause.non_retryable is True
    return cause


@pytest.mark.parametrize("case", ["unknown-line", "everything-shipped"])
async def test_a_cancel_the_validator_refuses_is_a_non_retryable_cancel_refused(
    case: str, harness: OrderHarness
) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    sid = (await harness.instructed(handle)).shipments[0].shipment_id
    req = CancelRequest()
    if case == "unknown-line":
        req = CancelRequest(lines=[CancelLine(line_id="99")])
    else:
        await harness.event(handle, sid, "shipped", carrier="UPS", tracking="1Z")
        await harness.until(handle, lambda s: s.status == OrderStatus.SHIPPED, "shipped")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(OrderWorkflow.cancel, req)
    assert_cancel_refused(err.value)
    state = await harness.state(handle)
    assert state.lines[0].cancelled == 0 and timeline_count(state, "cancelled") == 0


async def test_a_cancel_every_node_refused_is_a_non_retryable_cancel_refused(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    settings = Settings(partner_sim_url=live_sim.url)
    async with order_harness(time_env, sqlite_engine, network, task_queue, settings) as h:
        handle = await h.start(make_order([("BOOT-HIKE-9", 2)]))
        sh = (await h.instructed(handle)).shipments[0]
        live_sim.sim.fulfilments.jobs[sh.shipment_id].status = "shipped"  # its event is late
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="too slow"))
        cause = assert_cancel_refused(err.value)
        assert "cannot cancel: shipped" in cause.message
        state = await h.state(handle)
        assert state.lines[0].cancelled == 0 and state.shipments[0].status.is_open


# ----------------------------------------------------------------- 6. search attributes
async def test_search_attributes_are_upserted_only_when_they_change(
    harness: OrderHarness,
) -> None:
    order = make_order([("TEE-MERINO-M", 1)])
    submitted = await DomClient(harness.client, harness.task_queue).submit(order)
    handle = harness.client.get_workflow_handle_for(OrderWorkflow.run, submitted.workflow_id)
    sid = (await harness.instructed(handle)).shipments[0].shipment_id
    await complete(harness, handle, sid)
    assert (await handle.result()).status == OrderStatus.COMPLETED
    events = await history(handle)

    [started] = of_type(events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    current: dict[str, Any] = dict(
        decode_search_attributes(
            started.workflow_execution_started_event_attributes.search_attributes
        )
    )
    assert current["OrderStatus"] == ["received"]  # DomClient sets some at start
    upserts = [
        dict(
            decode_search_attributes(
                e.upsert_workflow_search_attributes_event_attributes.search_attributes
            )
        )
        for e in of_type(events, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    ]
    assert upserts, "the order never upserted its search attributes"
    for i, upsert in enumerate(upserts):
        assert upsert, f"upsert {i} set nothing"
        unchanged = {k: v for k, v in upsert.items() if current.get(k) == v}
        assert unchanged == {}, f"upsert {i} re-sent unchanged keys {unchanged}"
        if i:
            repeated = {k for k, v in upsert.items() if upserts[i - 1].get(k) == v}
            assert repeated == set(), f"upserts {i - 1} and {i} both set {repeated}"
        current.update(upsert)
    assert current["OrderStatus"] == ["completed"]
    statuses = [u["OrderStatus"][0] for u in upserts if "OrderStatus" in u]
    assert statuses[-1] == "completed" and len(statuses) == len(set(statuses))


# ----------------------------------------------------------------- 7. static summary
async def test_the_static_summary_counts_one_line_and_one_unit_in_english(
    harness: OrderHarness,
) -> None:
    order = make_order([("TEE-MERINO-M", 1)])
    submitted = await DomClient(harness.client, harness.task_queue).submit(order)
    desc = await harness.client.get_workflow_handle(submitted.workflow_id).describe()
    summary = await desc.static_summary() or ""
    assert summary.startswith(f"Order {order.order_id} · web · 1 line / 1 unit · ")


# ----------------------------------------------------------------- the request follows the decision
async def test_the_node_request_leaves_only_after_the_decision_is_in_the_history(
    harness: OrderHarness,
) -> None:
    """A local activity's effect happens before its workflow task is recorded: a worker killed
    in between would have told the node about a shipment the order does not know yet, and the
    node's answers would find nothing (the crash bench saw 2 orders of 200 stuck that way). The
    request is therefore an activity, scheduled in a completed workflow task before it runs."""
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    await harness.instructed(handle)
    events = [e async for e in handle.fetch_history_events()]
    scheduled = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "instruct_node"
    ]
    assert len(scheduled) == 1
    decided_in = scheduled[
        0
    ].activity_task_scheduled_event_attributes.workflow_task_completed_event_id
    route_marker = next(
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and any(
            b"reserve_and_route" in p.data
            for p in e.marker_recorded_event_attributes.details["data"].payloads
        )
    )
    # The plan that created the shipment was recorded no later than the request's decision.
    assert (
        route_marker.marker_recorded_event_attributes.workflow_task_completed_event_id <= decided_in
    )


# ----------------------------------------------------------------- held as received
async def test_an_order_held_as_received_is_cancelled_when_its_review_hold_times_out(
    harness: OrderHarness, sqlite_engine: AsyncEngine
) -> None:
    order = make_order([("NO-SUCH-SKU", 1)]).model_copy(update={"hold_if_invalid": True})
    handle = await harness.start(order)
    state = await harness.until(handle, lambda s: bool(s.holds), "the review hold")
    assert [h.kind for h in state.holds] == ["review"]
    assert "unknown SKU 'NO-SUCH-SKU'" in state.holds[0].reason
    await harness.env.sleep(timedelta(days=2, minutes=1))  # the policy's hold timeout
    result = await handle.result()
    assert result.status == OrderStatus.CANCELLED
    assert await ledger.reservations_of(sqlite_engine, order.order_id) == []
    async with sqlite_engine.connect() as conn:
        closed = await conn.execute(
            sa.select(schema.order_closures.c.status).where(
                schema.order_closures.c.order_id == order.order_id
            )
        )
        assert closed.scalar_one() == "cancelled"


async def test_an_invalid_order_without_hold_if_invalid_fails_at_once(
    harness: OrderHarness,
) -> None:
    handle = await harness.start(make_order([("NO-SUCH-SKU", 1)]))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await harness.state(handle)).holds == []


async def test_cancelled_units_of_an_order_paid_at_its_channel_are_refunded_there(
    harness: OrderHarness,
) -> None:
    order = make_order([("TEE-MERINO-M", 2)]).model_copy(
        update={"payment_mode": "channel", "channel": "shopify"}
    )
    handle = await harness.start(order)
    await harness.instructed(handle)
    result = await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    assert str(result.amount_not_charged.amount) == "50.00"
    state = await harness.state(handle)
    assert state.payment is not None and state.payment.status == "paid_at_channel"
    assert str(state.payment.refunded.amount) == "50.00"
    assert timeline_count(state, "refund-at-channel") == 1
    assert [e for e in state.escalations if "refund it there" in e] == [
        "50.00 USD of cancelled units was paid at shopify: refund it there"
    ]
