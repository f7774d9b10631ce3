"""Telling orders about their inbound: after an inbound operation commits, each order whose
pre-orders it touched gets a signal. An arrival wakes the orders to ship the units just reserved
for them (the backorder wake-up signal) and, for units nobody had pre-ordered, the SKU's waiting
list (first come first served); a late or cancelled inbound makes them read their dates again.

Signals go after the commit, so a process that dies in between leaves orders unwoken: callers
repeat the operation (it is idempotent and returns the orders again) and the orders are told
again. Duplicates are harmless to every receiver."""

from __future__ import annotations

from typing import Literal

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from dom_workflows.backorder.models import StockArrival, StockAvailable, waitlist_workflow_id
from dom_workflows.inventory.inbound import InboundChange, InboundNotice
from dom_workflows.order import names
from dom_workflows.order.models import order_workflow_id


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
