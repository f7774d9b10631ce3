"""Pre-orders on the time-skipping server: backordered units are allocated against a purchase
order first come first served, the order shows the PO's date (and the new one when it is late,
or none when it is cancelled), and the PO's arrival reserves the units for the orders that
pre-ordered them, which then ship them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.inventory import inbound, ledger
from dom_workflows.backorder.models import waitlist_workflow_id
from dom_workflows.backorder.workflows import SkuWaitlistWorkflow
from dom_workflows.inventory.inbound import InboundRequest
from dom_workflows.network import Network
from dom_workflows.order.models import OrderPolicy, OrderState, OrderStatus
from tests.support.catalog import with_unstocked_sku
from tests.support.harness import OrderHarness, make_order, order_harness
from tests.support.until import until
from workers.inbound_wake import after_change, tell_orders

SKU = "KAYAK-SEAT"  # nobody stocks it: every unit ordered is backordered
DUE = datetime(2031, 5, 1, 12, tzinfo=UTC)


@pytest_asyncio.fixture
async def h(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[OrderHarness]:
    net = await with_unstocked_sku(sqlite_engine, network, SKU)
    async with order_harness(time_env, sqlite_engine, net, task_queue) as harness:
        yield harness


async def create_po(h: OrderHarness, id_: str, qty: int, due: datetime) -> None:
    await inbound.upsert(
        h.engine, InboundRequest(id=id_, node="wh-dallas", sku=SKU, qty=qty, expected_at=due)
    )


def dates(s: OrderState) -> list[tuple[int, datetime | None, str | None, bool]]:
    return [(p.qty, p.expected_at, p.inbound, p.arrived) for p in s.backorders]


def seat_units(s: OrderState) -> int:
    return sum(sl.qty for sh in s.shipments for sl in sh.lines if sl.sku == SKU)


async def start(h: OrderHarness, qty: int) -> WorkflowHandle[Any, Any]:
    handle = await h.start(make_order([(SKU, qty), ("TEE-MERINO-M", 1)]))
    await h.until(handle, lambda s: bool(s.backorders), "the backorder's dates")
    return handle


async def test_a_preordered_backorder_shows_its_date_and_ships_when_the_po_arrives(
    h: OrderHarness,
) -> None:
    await create_po(h, "PO-1", 3, DUE)
    first = await start(h, 2)
    assert dates(await h.state(first)) == [(2, DUE, "PO-1", False)]
    second = await start(h, 2)  # one unit of the PO is left for it; the other has no date
    assert dates(await h.state(second)) == [(1, DUE, "PO-1", False), (1, None, None, False)]

    # The PO is late: both orders show the new date.
    late = DUE + timedelta(days=12)
    change = await inbound.delay(h.engine, "PO-1", late)
    first_id, second_id = [(await h.state(x)).order_id for x in (first, second)]
    assert await tell_orders(h.client, change, "delayed") == [first_id, second_id]
    s1 = await h.until(first, lambda s: dates(s) == [(2, late, "PO-1", False)], "the new date")
    assert any(e.kind == "promised" and late.strftime("%Y-%m-%d") in e.message for e in s1.timeline)
    await h.until(second, lambda s: dates(s)[0] == (1, late, "PO-1", False), "the new date")

    # The PO arrives: its units are reserved for the orders that pre-ordered them in the
    # same transaction, so the shelf shows no ATP for anyone else.
    arrived = await inbound.receive(h.engine, "PO-1")
    assert arrived.reserved_units == 3 and arrived.orders == [first_id, second_id]
    view = await inbound.atp_view(h.engine, SKU)
    assert (view.total_on_hand, view.total_reserved, view.total_atp) == (3, 3, 0)
    await tell_orders(h.client, arrived, "received")

    s1 = await h.until(
        first, lambda s: seat_units(s) == 2 and not s.backorders, "the first order routed"
    )
    [seat] = [sh for sh in s1.shipments if any(sl.sku == SKU for sl in sh.lines)]
    assert seat.node == "wh-dallas" and all(ln.backordered == 0 for ln in s1.lines)
    # The second order routes its arrived unit and still waits, without a date, for the other.
    await h.until(
        second,
        lambda s: seat_units(s) == 1 and dates(s) == [(1, None, None, False)],
        "the second order's unit routed",
    )
    # The arrived reservations became the shipments' own: nothing waits as a pre-reservation.
    rows = await ledger.reservations_of(h.engine, first_id)
    assert {(r["shipment_id"], r["qty"], r["status"]) for r in rows if r["sku"] == SKU} == {
        (seat.shipment_id, 2, "reserved")
    }

    # The first order ships and completes.
    for sh in s1.shipments:
        await h.event(first, sh.shipment_id, "shipped", carrier="UPS", tracking="1Z")
        await h.event(first, sh.shipment_id, "delivered")
    result = await first.result()
    assert result.status == OrderStatus.COMPLETED
    view = await inbound.atp_view(h.engine, SKU)
    assert (view.total_on_hand, view.total_reserved) == (1, 1)  # the second order's unit


async def test_a_cancelled_po_moves_the_order_to_the_next_po_or_leaves_it_without_a_date(
    h: OrderHarness,
) -> None:
    await create_po(h, "PO-1", 2, DUE)
    await create_po(h, "PO-2", 1, DUE + timedelta(days=30))
    handle = await start(h, 2)
    assert dates(await h.state(handle)) == [(2, DUE, "PO-1", False)]

    change = await inbound.cancel(h.engine, "PO-1")
    assert (change.reallocated_units, change.released_units) == (1, 1)
    await tell_orders(h.client, change, "cancelled")
    state = await h.until(
        handle,
        lambda s: (
            dates(s) == [(1, DUE + timedelta(days=30), "PO-2", False), (1, None, None, False)]
        ),
        "the order re-promised against PO-2",
    )
    assert any(e.kind == "inbound" and "PO-1 cancelled" in e.message for e in state.timeline)
    assert state.status != OrderStatus.CANCELLED

    # A malformed or stray notice changes nothing and fails no workflow task.
    await handle.signal("inbound_changed", {"inbound": 7})
    await handle.signal("inbound_changed", {"inbound": "PO-UNRELATED", "change": "delayed"})
    again = await h.until(
        handle,
        lambda s: (
            any(e.kind == "ignored" for e in s.timeline)
            and any("PO-UNRELATED" in e.message for e in s.timeline)
        ),
        "both notices seen",
    )
    assert dates(again) == dates(state)


async def test_a_new_po_is_preordered_for_the_orders_already_waiting_first_come_first(
    h: OrderHarness,
) -> None:
    first = await start(h, 2)
    second = await start(h, 2)
    assert dates(await h.state(first)) == [(2, None, None, False)]  # nothing announced yet
    ids = [(await h.state(x)).order_id for x in (first, second)]
    waitlist = h.client.get_workflow_handle(waitlist_workflow_id(SKU))
    await until(
        lambda: waitlist.query(SkuWaitlistWorkflow.waiting),
        lambda w: [x.workflow_id for x in w] == [f"backorder-{i}" for i in ids],
        "both orders on the waiting list, in order",
    )

    change, created = await inbound.upsert(
        h.engine, InboundRequest(id="PO-9", node="wh-dallas", sku=SKU, qty=3, expected_at=DUE)
    )
    assert created
    assert await after_change(h.client, h.engine, change, "updated") == ids
    await h.until(first, lambda s: dates(s) == [(2, DUE, "PO-9", False)], "first dated")
    await h.until(
        second,
        lambda s: dates(s) == [(1, DUE, "PO-9", False), (1, None, None, False)],
        "second dated for what is left",
    )
    assert (await inbound.get_inbound(h.engine, "PO-9")).available == 0


async def test_a_preorder_waits_past_the_backorder_deadline_for_its_later_po(
    h: OrderHarness,
) -> None:
    now = await h.env.get_current_time()
    due = now + timedelta(days=30)  # after the 14-day backorder deadline
    await create_po(h, "PO-FAR", 2, due)
    handle = await h.start(make_order([(SKU, 2)]))
    state = await h.until(
        handle,
        lambda s: any("backorder deadline moved" in e.message for e in s.timeline),
        "the deadline moved for the PO",
    )
    [moved] = [e for e in state.timeline if "backorder deadline moved" in e.message]
    expected_deadline = due + OrderPolicy().backorder_deadline
    assert f"{expected_deadline:%Y-%m-%d}" in moved.message and "PO-FAR" in moved.message

    await h.env.sleep(timedelta(days=20))  # past the original deadline, before the PO
    state = await h.state(handle)
    assert [(ln.backordered, ln.cancelled) for ln in state.lines] == [(2, 0)]
    assert dates(state) == [(2, due, "PO-FAR", False)]

    arrived = await inbound.receive(h.engine, "PO-FAR")
    await tell_orders(h.client, arrived, "received")
    await h.until(handle, lambda s: seat_units(s) == 2 and not s.backorders, "shipped from the PO")
