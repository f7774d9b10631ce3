"""The recorders of tests/replay/histories: each runs one workflow path on the time-skipping
server and writes its histories. Not a test module (pytest does not collect it on its own):
`make record-histories` runs it explicitly; tests/replay/test_replay.py replays every file.
Until 1.0 a changed path is simply re-recorded (docs/versioning.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.inventory import inbound, ledger, schema
from dom_workflows.backorder.models import StockArrival
from dom_workflows.common.models import ShipmentLine
from dom_workflows.config import Settings
from dom_workflows.inventory.inbound import InboundRequest
from dom_workflows.inventory.models import InventoryReceipt
from dom_workflows.network import Network, SkuConfig
from dom_workflows.order.models import CancelLine, CancelRequest, ReleaseHold
from dom_workflows.order.workflows import OrderWorkflow
from tests.replay.scenarios import RETURN_SCENARIOS, SCENARIOS
from tests.replay.test_replay import HISTORIES
from tests.support.harness import OrderHarness, make_order, order_harness
from tests.support.returns import partner_settings
from tests.support.sim import LiveSim
from workers.client import DomClient
from workers.inbound_wake import tell_orders


async def save(client: Client, flow: str, workflow_ids: list[str]) -> None:
    for wid in workflow_ids:
        history = await client.get_workflow_handle(wid).fetch_history()
        out: Path = HISTORIES / f"{flow}__{wid}.json"
        out.write_text(
            json.dumps({"workflow_id": wid, "history": json.loads(history.to_json())}, indent=1)
        )


async def deliver_all(h: OrderHarness, handle: Any, *, accept: bool = True) -> None:
    state = await h.state(handle)
    for sh in state.shipments:
        if sh.status.is_open:
            if accept:
                await h.event(handle, sh.shipment_id, "accepted")
            await h.event(handle, sh.shipment_id, "shipped", carrier="UPS", tracking=f"1Z{sh.node}")
            await h.event(handle, sh.shipment_id, "delivered")


async def add_sku(
    engine: AsyncEngine, network: Network, sku: str, node: str | None, qty: int
) -> Network:
    async with engine.begin() as conn:
        await conn.execute(
            schema.skus.insert().values(
                sku=sku, name=sku, weight_lb=1.0, price=Decimal("20"), tags=[]
            )
        )
        if node:
            await conn.execute(
                schema.inventory_positions.insert().values(
                    node_id=node,
                    sku=sku,
                    on_hand=qty,
                    reserved=0,
                    safety_stock=2,
                    updated_at=datetime.now(UTC),
                )
            )
    return network.model_copy(
        update={
            "skus": [
                *network.skus,
                SkuConfig(sku=sku, name=sku, weight_lb=1.0, price=Decimal("20")),
            ]
        }
    )


async def test_record_backorder_filled(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    net = await add_sku(sqlite_engine, network, "REC-BO", None, 0)
    async with order_harness(time_env, sqlite_engine, net, task_queue) as h:
        handle = await h.start(make_order([("REC-BO", 1)], order_id="REC-BO-1"))
        await h.until(handle, lambda s: s.backorder_workflow_id is not None, "backorder")
        await ledger.receive(
            h.engine, InventoryReceipt(node="wh-reno", sku="REC-BO", qty=3, reference="REC-ASN")
        )
        for _ in range(50):  # the waiting list is started by the backorder's activity
            if await DomClient(h.client, task_queue).stock_arrived(
                "REC-BO", StockArrival(node="wh-reno", qty=3, reference="REC-ASN")
            ):
                break
        await h.until(
            handle, lambda s: s.lines[0].backordered == 0 and len(s.shipments) == 1, "filled"
        )
        await h.instructed(handle)
        await deliver_all(h, handle)
        await handle.result()
        await h.client.get_workflow_handle("waitlist-REC-BO").result()
        await save(
            h.client, "flow_backorder_filled", [handle.id, "backorder-REC-BO-1", "waitlist-REC-BO"]
        )


async def test_record_backorder_preordered(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    """Backordered units pre-ordered against a PO: dated, the PO late, then arrived and shipped."""
    net = await add_sku(sqlite_engine, network, "REC-PRE", None, 0)
    due = datetime(2031, 5, 1, tzinfo=UTC)
    await inbound.upsert(
        sqlite_engine,
        InboundRequest(id="REC-PO", node="wh-reno", sku="REC-PRE", qty=2, expected_at=due),
    )
    async with order_harness(time_env, sqlite_engine, net, task_queue) as h:
        handle = await h.start(make_order([("REC-PRE", 2)], order_id="REC-PRE-1"))
        await h.until(handle, lambda s: bool(s.backorders), "dated")
        late = await inbound.delay(h.engine, "REC-PO", due + timedelta(days=7))
        await tell_orders(h.client, late, "delayed")
        await h.until(
            handle, lambda s: s.backorders[0].expected_at == due + timedelta(days=7), "late"
        )
        arrived = await inbound.receive(h.engine, "REC-PO")
        await tell_orders(h.client, arrived, "received")
        await h.until(handle, lambda s: len(s.shipments) == 1, "routed")
        await h.instructed(handle)
        await deliver_all(h, handle)
        await handle.result()
        await h.client.get_workflow_handle("backorder-REC-PRE-1").result()
        await save(h.client, "flow_backorder_preordered", [handle.id, "backorder-REC-PRE-1"])


async def test_record_fraud_hold_released(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    policy = network.order_policy.model_copy(update={"fraud_review_value": Decimal("10.00")})
    async with order_harness(
        time_env, sqlite_engine, network.model_copy(update={"order_policy": policy}), task_queue
    ) as h:
        handle = await h.start(make_order([("TEE-MERINO-M", 1)], order_id="REC-HOLD-1"))
        await h.until(handle, lambda s: bool(s.holds) and bool(s.routes), "held")
        await handle.execute_update(OrderWorkflow.release_hold, ReleaseHold(note="reviewed"))
        await h.instructed(handle)
        await deliver_all(h, handle)
        await handle.result()
        await save(h.client, "flow_fraud_hold_released", [handle.id])


async def test_record_partial_rejection(harness: OrderHarness) -> None:
    h = harness
    handle = await h.start(
        make_order([("BOOT-HIKE-9", 1), ("TEE-MERINO-M", 1)], order_id="REC-PARTIAL-1")
    )
    state = await h.instructed(handle)
    sh = state.shipments[0]
    tee = next(sl for sl in sh.lines if sl.sku == "TEE-MERINO-M")
    await h.event(
        handle,
        sh.shipment_id,
        "rejected",
        reason="damaged",
        lines=[ShipmentLine(line_id=tee.line_id, sku=tee.sku, qty=1)],
    )
    await h.until(handle, lambda s: len(s.shipments) == 2, "re-route")
    await h.instructed(handle, 2)
    await deliver_all(h, handle)
    await handle.result()
    await save(h.client, "flow_partial_rejection", [handle.id])


async def test_record_payments_dropship_store_label(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    net = await add_sku(sqlite_engine, network, "REC-MUG", "store-nyc", 10)
    settings = Settings(
        payment_url=f"{live_sim.url}/payments",
        carrier_url=f"{live_sim.url}/carrier",
        supplier_url=f"{live_sim.url}/suppliers",
    )
    async with order_harness(time_env, sqlite_engine, net, task_queue, settings) as h:
        handle = await h.start(make_order([("SUP-BOARD", 1), ("REC-MUG", 1)], order_id="REC-PAY-1"))
        state = await h.instructed(handle, 2)
        for sh in state.shipments:
            await h.event(handle, sh.shipment_id, "accepted")
        await h.until(handle, lambda s: any(x.label_id for x in s.shipments), "store label")
        await deliver_all(h, handle, accept=False)
        await handle.result()
        await save(h.client, "flow_payments_dropship_store_label", [handle.id])


async def test_record_consolidated_orders(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> None:
    window = timedelta(minutes=10)
    policy = network.order_policy.model_copy(update={"consolidation_window": window})
    async with order_harness(
        time_env, sqlite_engine, network.model_copy(update={"order_policy": policy}), task_queue
    ) as h:
        handles = []
        for n in (1, 2):
            order = make_order([("BOOT-HIKE-9", 1)], order_id=f"REC-CONS-{n}")
            order = order.model_copy(
                update={"customer": order.customer.model_copy(update={"id": "C-REC"})}
            )
            handles.append(await h.start(order))
        for handle in handles:
            await h.until(handle, lambda s: bool(s.routes), "routed")
        await h.env.sleep(window + timedelta(seconds=1))
        for handle in handles:
            await h.instructed(handle)
            await deliver_all(h, handle)
            await handle.result()
        await h.client.get_workflow_handle("consolidate-C-REC").result()
        await save(
            h.client, "flow_consolidated_orders", [*(x.id for x in handles), "consolidate-C-REC"]
        )


async def test_record_partial_cancel_amended(harness: OrderHarness) -> None:
    h = harness
    handle = await h.start(make_order([("BOOT-HIKE-9", 3)], order_id="REC-AMEND-1"))
    await h.instructed(handle)
    await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=2)])
    )
    await deliver_all(h, handle)
    await handle.result()
    await save(h.client, "flow_partial_cancel_amended", [handle.id])


async def test_record_cancel_node_first(harness: OrderHarness) -> None:
    h = harness
    handle = await h.start(make_order([("BOOT-HIKE-9", 3)], order_id="REC-NODEFIRST-1"))
    await h.instructed(handle)
    await handle.execute_update(
        OrderWorkflow.cancel, CancelRequest(lines=[CancelLine(line_id="1", qty=1)])
    )
    await handle.execute_update(OrderWorkflow.cancel, CancelRequest(reason="changed mind"))
    await handle.result()
    await save(h.client, "flow_cancel_node_first", [handle.id])


async def save_one(handle: Any, name: str) -> None:
    history = await handle.fetch_history()
    out = HISTORIES / f"{name}.json"
    out.write_text(
        json.dumps({"workflow_id": handle.id, "history": json.loads(history.to_json())}, indent=1)
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_record(name: str, harness: OrderHarness) -> None:
    await save_one(await SCENARIOS[name](harness), name)


@pytest_asyncio.fixture
async def partnered_harness(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> AsyncIterator[OrderHarness]:
    async with order_harness(
        time_env, sqlite_engine, network, task_queue, partner_settings(live_sim)
    ) as h:
        yield h


@pytest.mark.parametrize("name", sorted(RETURN_SCENARIOS))
async def test_record_return(name: str, partnered_harness: OrderHarness) -> None:
    await save_one(await RETURN_SCENARIOS[name](partnered_harness), name)
