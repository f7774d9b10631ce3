"""Telling orders about their inbound: after an inbound operation commits, each order whose
pre-orders it touched gets a signal. An arrival wakes the orders to ship the units just reserved
for them (the backorder wake-up signal) and, for units nobody had pre-ordered, the SKU's waiting
list (first come first served); a late or cancelled inbound makes them read their dates again.

Signals go after the commit, so a process that dies in between leaves orders unwoken: callers
repeat the operation (it is idempotent and returns the orders again) and the orders are told
again. Duplicates are harmless to every receiver.

New supply (an inbound created, or more units on it) is pre-ordered for the orders already
waiting for the SKU, in their waiting list's order: first come first served, whether an order
backordered before or after the inbound was announced."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.inventory import preorders
from dom_workflows.backorder.models import (
    StockArrival,
    StockAvailable,
    Waiter,
    backorder_workflow_id,
    waitlist_workflow_id,
)
from dom_workflows.inventory.inbound import (
    AllocateBackorders,
    BackorderLine,
    InboundChange,
    InboundNotice,
)
from dom_workflows.order import names
from dom_workflows.order.models import OrderState, order_workflow_id
from dom_workflows.order.state import TERMINAL

QUERY_TIMEOUT = timedelta(seconds=5)


async def _signal(client: Client, workflow_id: str, name: str, payload: object) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).signal(name, payload)
        return True
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return False  # the order (or list) has ended: nobody to tell
        raise


Change = Literal["received", "delayed", "cancelled", "updated"]


async def tell_orders(client: Client, change: InboundChange, what: Change) -> list[str]:
    """Signal what `change` means to its orders; returns the orders that were running.
    `what`: received | delayed | cancelled | updated."""
    told: list[str] = []
    sku = change.inbound.sku
    for order_id in change.orders:
        if what == "received":
            sent = await _signal(
                client, order_workflow_id(order_id), names.STOCK_AVAILABLE, StockAvailable(sku=sku)
            )
        else:
            notice = InboundNotice(inbound=change.inbound.id, change=what)
            sent = await _signal(client, order_workflow_id(order_id), names.INBOUND_CHANGED, notice)
        if sent:
            told.append(order_id)
    if what == "received" and change.unallocated_received > 0:
        arrival = StockArrival(
            node=change.inbound.node, qty=change.unallocated_received, reference=change.inbound.id
        )
        await _signal(client, waitlist_workflow_id(sku), "stock_arrived", arrival)
    return told


async def after_change(
    client: Client, engine: AsyncEngine, change: InboundChange, what: Change
) -> list[str]:
    """Everything an inbound operation's orders must hear, and, when it brought new supply,
    pre-orders for the orders already waiting. Returns the orders signalled."""
    told = await tell_orders(client, change, what)
    if what == "updated" and change.applied and change.inbound.available > 0:
        for order_id in await allocate_waiting(
            client, engine, change.inbound.sku, change.inbound.id
        ):
            if order_id not in told:
                told.append(order_id)
    return told


async def allocate_waiting(
    client: Client, engine: AsyncEngine, sku: str, inbound_id: str
) -> list[str]:
    """Pre-order new supply of `sku` for the orders on its waiting list, head first, one at a
    time (so the list's order is the allocation's order), and tell those it dated. Orders that
    cannot be read are skipped; they are dated at their next backorder change."""
    try:
        queue: list[Waiter] = await client.get_workflow_handle(waitlist_workflow_id(sku)).query(
            "waiting", result_type=list[Waiter], rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError):
        return []  # nobody waits (or the list cannot answer now)
    dated: list[str] = []
    for waiter in queue:
        order_id = waiter.workflow_id.removeprefix(backorder_workflow_id(""))
        try:
            state: OrderState = await client.get_workflow_handle(order_workflow_id(order_id)).query(
                names.STATE, result_type=OrderState, rpc_timeout=QUERY_TIMEOUT
            )
        except (RPCError, WorkflowQueryFailedError):
            continue
        if state.status in TERMINAL or not any(ln.backordered for ln in state.lines):
            continue
        shown = await preorders.allocate_backorders(
            engine,
            AllocateBackorders(
                order_id=order_id,
                lines=[
                    BackorderLine(line_id=ln.line_id, sku=ln.sku, backordered=ln.backordered)
                    for ln in state.lines
                ],
            ),
        )
        if any(p.inbound == inbound_id for p in shown):
            notice = InboundNotice(inbound=inbound_id, change="updated")
            if await _signal(client, order_workflow_id(order_id), names.INBOUND_CHANGED, notice):
                dated.append(order_id)
    return dated
