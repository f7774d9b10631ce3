"""A routing step tried again after a worker died (issue 13, "Shipments the DOM does not know").

reserve_and_route is a local activity: its reservation commits in the worker before the
workflow task that asked for it completes. A worker killed in between leaves the reservation
(and its stored plan under that routing attempt) while the history knows nothing of it. The
workflow task runs again on another worker and may see more than the first try did (a second
rejection, a backorder's wake arrived meanwhile), so it asks the same attempt for other units;
the activity answers with the stored plan of the first try. The order must adopt what the ledger
reserved and still route what the plan did not cover, never leave units unrouted or a
reservation it does not know of."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.inventory import ledger
from activities.inventory.activities import InventoryActivities
from dom_workflows.backorder.models import BackorderResult, StockAvailable
from dom_workflows.config import Settings
from dom_workflows.inventory.models import (
    InventoryReceipt,
    ReserveAndRouteInput,
    ReserveAndRouteResult,
    SourcingLine,
)
from dom_workflows.network import Network
from dom_workflows.order import names
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    OrderState,
    OrderStatus,
    ShipmentStatus,
)
from dom_workflows.order.workflows import OrderWorkflow
from tests.support.catalog import with_unstocked_sku
from tests.support.harness import OrderHarness, make_order, replace_activity
from workers.worker import WORKFLOWS, client_activities, dependencies

SKU = "TENT-4P"

Router = Callable[[ReserveAndRouteInput], Awaitable[ReserveAndRouteResult]]


def lost_first_try(real: InventoryActivities, attempt: int, units: int) -> Router:
    """reserve_and_route whose first call for `attempt` comes after an earlier try of the same
    workflow task (a killed worker) reserved that attempt for only `units` of the first line:
    the stored plan the retried call gets back covers fewer units than it asks for."""
    tried: set[int] = set()

    @activity.defn(name="reserve_and_route")
    async def router(inp: ReserveAndRouteInput) -> ReserveAndRouteResult:
        if inp.attempt == attempt and attempt not in tried:
            tried.add(attempt)
            first = inp.lines[0].model_copy(update={"qty": units})
            await real.reserve_and_route(inp.model_copy(update={"lines": [first]}))
        return await real.reserve_and_route(inp)

    return router


async def ship_open(h: OrderHarness, handle: Any, st: OrderState, done: set[str]) -> None:
    """The nodes take, ship and deliver every request the order has sent and not yet settled."""
    for sh in st.shipments:
        if sh.shipment_id in done or sh.status != ShipmentStatus.REQUESTED:
            continue
        done.add(sh.shipment_id)
        for kind in ("accepted", "shipped", "delivered"):
            await h.event(handle, sh.shipment_id, kind)


async def test_a_retried_reroute_adopts_the_stored_plan_and_routes_the_units_it_did_not_cover(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    async with dependencies(Settings(), engine=sqlite_engine, network=network) as deps:
        real = InventoryActivities(deps.engine, deps.network, deps.policy)
        activities = replace_activity(deps, "reserve_and_route", lost_first_try(real, 2, 1))
        activities += client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order = make_order([(SKU, 3)])
            handle = await h.start(order)
            st = await h.instructed(handle)
            assert [sh.units for sh in st.shipments] == [3]
            first = st.shipments[0]
            await h.event(handle, first.shipment_id, "rejected", reason="no stock after all")
            # Attempt 2 gets back a plan for 1 unit: the other 2 need attempt 3.
            st = await h.until(
                handle,
                lambda s: sum(sh.units for sh in s.shipments if sh.status.is_open) == 3,
                "all 3 units on a live shipment again",
            )
            done: set[str] = set()
            while st.status not in (OrderStatus.COMPLETED, OrderStatus.FAILED):
                await ship_open(h, handle, st, done)
                st = await h.until(
                    handle,
                    lambda s: (
                        s.status == OrderStatus.COMPLETED
                        or any(
                            sh.status == ShipmentStatus.REQUESTED and sh.shipment_id not in done
                            for sh in s.shipments
                        )
                    ),
                    "the order to complete or send another request",
                )
            await handle.result()
            final = await h.state(handle)

    assert final.status == OrderStatus.COMPLETED
    line = final.lines[0]
    assert (line.shipped, line.allocated, line.backordered, line.cancelled) == (3, 3, 0, 0)
    # Every reservation the ledger made for the order is a shipment the order knows.
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    known = {sh.shipment_id for sh in final.shipments}
    assert {r["shipment_id"] for r in rows} <= known
    assert all(r["status"] != "reserved" for r in rows)
    consumed = sum(r["qty"] for r in rows if r["status"] == "consumed")
    assert consumed == 3
    assert not any("still reserved when the order closed" in e for e in final.escalations)


def orphan_beside_first(real: InventoryActivities, orphan_attempt: int) -> Router:
    """reserve_and_route that, with the order's first routing, also leaves a reservation under
    an attempt the order never makes: a lost try's reservation the order cannot know of."""

    @activity.defn(name="reserve_and_route")
    async def router(inp: ReserveAndRouteInput) -> ReserveAndRouteResult:
        if inp.attempt == 1:
            await real.reserve_and_route(inp.model_copy(update={"attempt": orphan_attempt}))
        return await real.reserve_and_route(inp)

    return router


async def test_a_ledger_shipment_the_order_never_recorded_is_escalated_when_it_closes(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    async with dependencies(Settings(), engine=sqlite_engine, network=network) as deps:
        real = InventoryActivities(deps.engine, deps.network, deps.policy)
        activities = replace_activity(deps, "reserve_and_route", orphan_beside_first(real, 9))
        activities += client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order = make_order([(SKU, 1)])
            handle = await h.start(order)
            st = await h.instructed(handle)
            await ship_open(h, handle, st, set())
            await handle.result()
            final = await h.state(handle)

    orphan = next(
        r["shipment_id"]
        for r in await ledger.reservations_of(sqlite_engine, order.order_id)
        if r["shipment_id"].startswith(f"{order.order_id}:9:")
    )
    assert final.status == OrderStatus.COMPLETED
    assert orphan not in {sh.shipment_id for sh in final.shipments}
    named = [e for e in final.escalations if orphan in e]
    assert len(named) == 1, final.escalations
    assert "1 unit released" in named[0] and "never recorded" in named[0]


WAITING_SKU = "KAYAK-SEAT"  # nobody stocks it: the order's first line waits for it


def woken_first(real: InventoryActivities, waiting: SourcingLine) -> Router:
    """reserve_and_route whose attempt 2 had first been tried for the backordered line (the
    wake a killed worker was handling); the retried task asks it for the re-routed line."""
    tried: set[int] = set()

    @activity.defn(name="reserve_and_route")
    async def router(inp: ReserveAndRouteInput) -> ReserveAndRouteResult:
        if inp.attempt == 2 and 2 not in tried:
            tried.add(2)
            await real.reserve_and_route(inp.model_copy(update={"lines": [waiting]}))
        return await real.reserve_and_route(inp)

    return router


async def test_a_retried_reroute_whose_stored_plan_took_the_backordered_line_stops_its_wait(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    """Order ...-0059's path: a line waits for stock, the stock arrives and the wake is being
    handled (attempt 2 reserves the waiting line) when the worker dies; the retried task first
    re-routes a rejected shipment, asking attempt 2 for that line, and gets the wake's plan. The
    order must record the waiting line as reserved (not backordered), tell its backorder, and
    still route the rejected line."""
    net = await with_unstocked_sku(sqlite_engine, network, WAITING_SKU)
    async with dependencies(Settings(), engine=sqlite_engine, network=net) as deps:
        real = InventoryActivities(deps.engine, deps.network, deps.policy)
        order = make_order([(WAITING_SKU, 2), (SKU, 1)])
        waiting = SourcingLine(line_id="1", sku=WAITING_SKU, qty=2, unit_price=50)
        activities = replace_activity(deps, "reserve_and_route", woken_first(real, waiting))
        activities += client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            handle = await h.start(order)
            st = await h.until(
                handle,
                lambda s: s.lines[0].backordered == 2 and s.backorder_workflow_id is not None,
                "the first line waiting for stock",
            )
            st = await h.instructed(handle)
            stocked = st.shipments[0]
            receipt = InventoryReceipt(node="wh-dallas", sku=WAITING_SKU, qty=2, reference="ASN")
            assert await ledger.receive(sqlite_engine, receipt)  # its wake is the lost one
            await h.event(handle, stocked.shipment_id, "rejected", reason="damaged")
            st = await h.until(
                handle,
                lambda s: sum(sh.units for sh in s.shipments if sh.status.is_open) == 3,
                "both lines on live shipments",
            )
            assert st.backorder_workflow_id is not None
            child = h.client.get_workflow_handle(
                st.backorder_workflow_id, result_type=BackorderResult
            )
            done = await child.result()  # told nothing waits any more, it ends
            final = await h.state(handle)

    assert (final.lines[0].allocated, final.lines[0].backordered) == (2, 0)
    assert (final.lines[1].allocated, final.lines[1].backordered) == (1, 0)
    assert done.expired == {}
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    live = {r["shipment_id"] for r in rows if r["status"] == "reserved"}
    assert live == {sh.shipment_id for sh in final.shipments if sh.status.is_open}


async def test_a_duplicate_wake_routes_the_waiting_units_once(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    """The backorder's wake signal delivered twice (a worker restarted while signalling): the
    waiting units are reserved and routed once; the second wake finds nothing waiting."""
    net = await with_unstocked_sku(sqlite_engine, network, WAITING_SKU)
    async with dependencies(Settings(), engine=sqlite_engine, network=net) as deps:
        activities = deps.activities() + client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order = make_order([(WAITING_SKU, 2)])
            handle = await h.start(order)
            await h.until(
                handle,
                lambda s: s.lines[0].backordered == 2 and s.backorder_workflow_id is not None,
                "the line waiting for stock",
            )
            receipt = InventoryReceipt(node="wh-dallas", sku=WAITING_SKU, qty=5, reference="ASN")
            assert await ledger.receive(sqlite_engine, receipt)
            for _ in range(2):
                await handle.signal(names.STOCK_AVAILABLE, StockAvailable(sku=WAITING_SKU))
            st = await h.instructed(handle)
            st = await h.until(
                handle, lambda s: s.lines[0].backordered == 0, "the waiting line routed"
            )

    assert [sh.units for sh in st.shipments] == [2]
    assert st.lines[0].allocated == 2
    assert sum(r.attempt == 2 for r in st.routes) == 1
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    assert sum(r["qty"] for r in rows if r["status"] == "reserved") == 2


async def test_a_stored_plan_reserving_more_than_the_line_needs_releases_the_rest(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    """The lost try re-routed 3 units; by the retried task the customer had cancelled one, so it
    asks for 2 and gets the plan for 3 back: the unit nobody needs goes back to ATP."""
    async with dependencies(Settings(), engine=sqlite_engine, network=network) as deps:
        real = InventoryActivities(deps.engine, deps.network, deps.policy)
        activities = replace_activity(deps, "reserve_and_route", lost_first_try(real, 2, 3))
        activities += client_activities(time_env.client, task_queue)
        async with Worker(
            time_env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
        ):
            h = OrderHarness(time_env.client, task_queue, sqlite_engine, time_env)
            order = make_order([(SKU, 3)])
            handle = await h.start(order)
            first = (await h.instructed(handle)).shipments[0]
            await handle.execute_update(
                OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
            )
            await h.event(handle, first.shipment_id, "rejected", reason="no stock after all")
            st = await h.until(
                handle,
                lambda s: any(
                    e.kind == "instructed" and ":2:" in (e.shipment_id or "") for e in s.timeline
                ),
                "the re-routed request sent",
            )

    line = st.lines[0]
    assert (line.allocated, line.cancelled, line.backordered) == (2, 1, 0)
    second = next(sh for sh in st.shipments if sh.route_attempt == 2)
    assert second.units == 2
    rows = await ledger.reservations_of(sqlite_engine, order.order_id)
    assert sum(r["qty"] for r in rows if r["status"] == "reserved") == 2
