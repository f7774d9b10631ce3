"""Partner webhooks: fulfilment and shipment events, inventory feeds. Every request is signed
(`X-DOM-Timestamp`, `X-DOM-Signature`) with the partner's own secret.

Order of checks, so a refused request never changes anything: signature (401) -> body (422) ->
already handled (200) -> the shipment exists in the DOM's records (404) -> its node belongs to this
partner (403) -> the event's lines are part of it (422) -> signal the order workflow (the only
Temporal call an event costs) -> remember the event id.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, cast

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from activities.alerts.feed_health import record_feed_failure, record_feed_ok
from activities.fulfillment.records import ShipmentRecord, lookup_shipment
from activities.inventory.db import utcnow
from activities.inventory.feeds import FeedRejected, FeedResult, apply_feed
from activities.inventory.outbound import record_unplanned_outbound
from dom_workflows.backorder.models import StockArrival
from dom_workflows.order.models import ShipmentEvent, ShipmentEventType
from dom_workflows.partners.models import (
    EVENT_TO_SHIPMENT_EVENT,
    InventoryFeed,
    PartnerEvent,
    order_id_of_shipment,
)
from workers.api import keys
from workers.api.auth import signed
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, parse_json, validation_problem
from workers.api.orders import PROBLEMS
from workers.api.security import verified_partner_body

log = logging.getLogger("dom.api.partners")
# Partner webhooks: the HMAC signature is the credential (checked over the raw body first).
router = APIRouter(tags=["partners"], dependencies=[signed()])

SIGNED = {
    "parameters": [
        {"name": "X-DOM-Timestamp", "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": "X-DOM-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
    ]
}


class EventReceipt(BaseModel):
    event_id: str
    order_id: str
    shipment_id: str
    # recorded-after-close: the order had ended and the DOM had cancelled this shipment, but the
    # node shipped it anyway; the units were taken out of on_hand and an escalation filed.
    status: Literal["applied", "duplicate", "recorded-after-close"]


def _event_key(partner_id: str, event_id: str) -> str:
    return keys.make_key("partner-event", partner_id, event_id)


def _owner(deps: ApiDeps, node_id: str) -> str:
    try:
        node = deps.network.node(node_id)
    except KeyError:
        return node_id
    # Demo nodes are their own partners; a network may say otherwise (a 3PL running many).
    return node.partner_id or node.id


def _check_lines(event: PartnerEvent, rec: ShipmentRecord) -> None:
    if not event.lines:
        return
    have = dict(rec.lines)
    bad = [
        f"line {ln.line_id} x {ln.qty}"
        for ln in event.lines
        if ln.line_id not in have or ln.qty > have[ln.line_id] or ln.qty <= 0
    ]
    if bad:
        raise Problem(
            422,
            "lines-mismatch",
            f"{', '.join(bad)} not part of shipment {rec.shipment_id} "
            f"(it holds {', '.join(f'line {k} x {v}' for k, v in have.items()) or 'nothing'})",
        )


def _parse_event(body: bytes) -> PartnerEvent:
    try:
        return PartnerEvent.model_validate(parse_json(body))
    except ValidationError as e:
        raise validation_problem(e, "the partner event") from None


@router.post(
    "/v1/partners/{partner_id}/events",
    response_model=EventReceipt,
    status_code=202,
    responses={200: {"model": EventReceipt, "description": "already handled"}, **PROBLEMS},
    openapi_extra={
        **SIGNED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PartnerEvent.model_json_schema()}},
        },
    },
)
async def partner_event(
    partner_id: str, request: Request, response: Response, deps: ApiDeps = Depends(get_deps)
) -> EventReceipt:
    """A partner reports on a fulfilment request: accepted, rejected, shipped or delivered.
    202 when it was passed to the order; 200 when this event id was handled before."""
    body = await verified_partner_body(request, partner_id, deps.secrets, deps.clock)
    event = _parse_event(body)
    try:
        order_id = order_id_of_shipment(event.shipment_id)
    except ValueError as e:
        raise Problem(
            404, "unknown-shipment", f"shipment {event.shipment_id!r} does not exist: {e}"
        ) from None
    if event.order_id is not None and event.order_id != order_id:
        raise Problem(
            422,
            "order-mismatch",
            f"shipment {event.shipment_id} belongs to order {order_id}, not {event.order_id}",
        )
    key = _event_key(partner_id, event.event_id)
    if await keys.lookup(deps.engine, key) is not None:
        response.status_code = 200
        return EventReceipt(
            event_id=event.event_id,
            order_id=order_id,
            shipment_id=event.shipment_id,
            status="duplicate",
        )
    # Who owns the shipment comes from the DOM's own records: no query to the order workflow,
    # so an event costs exactly one Temporal call (the signal).
    found = await lookup_shipment(deps.engine, event.shipment_id)
    rec = found.record
    if rec is None:
        if found.order_known:
            raise Problem(
                404, "unknown-shipment", f"order {order_id} has no shipment {event.shipment_id}"
            )
        raise Problem(
            404,
            "unknown-shipment",
            f"shipment {event.shipment_id} does not exist: order {order_id} was never routed",
        )
    owner = _owner(deps, rec.node)
    if owner != partner_id:
        raise Problem(
            403,
            "not-your-shipment",
            f"shipment {rec.shipment_id} was sent to node {rec.node}, which partner {partner_id} "
            "does not operate",
        )
    _check_lines(event, rec)
    signal = ShipmentEvent(
        event_id=event.event_id,
        shipment_id=event.shipment_id,
        type=cast(ShipmentEventType, EVENT_TO_SHIPMENT_EVENT[event.type]),
        carrier=event.carrier,
        tracking=event.tracking,
        reason=event.reason,
        lines=event.lines,
        occurred_at=event.occurred_at,
    )
    try:
        await deps.dom.send_shipment_event(order_id, signal)
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        if signal.type == "shipped" and rec.released:
            return await _shipped_after_close(deps, partner_id, event, rec, key)
        raise Problem(
            409,
            "order-closed",
            f"order {order_id} is already closed; the {event.type} event was not applied",
        ) from None
    # Remembered only after the signal landed: a failed signal can be retried by the partner.
    # A concurrent duplicate may also have signalled; the workflow dedupes by event id.
    await keys.remember(
        deps.engine, key, "partner-event", {"order_id": order_id, "type": event.type}
    )
    log.debug("%s: %s %s for %s", partner_id, event.type, event.event_id, event.shipment_id)
    return EventReceipt(
        event_id=event.event_id, order_id=order_id, shipment_id=event.shipment_id, status="applied"
    )


async def _shipped_after_close(
    deps: ApiDeps, partner_id: str, event: PartnerEvent, rec: ShipmentRecord, key: str
) -> EventReceipt:
    """The order is closed and had released every unit of this shipment, yet the node shipped
    it: the units left all the same. Take them out of on_hand (once per event) and escalate."""
    shipped = (
        [(rec.skus[ln.line_id], ln.qty) for ln in event.lines]
        if event.lines
        else [(rec.skus[line_id], qty) for line_id, qty in rec.lines.items()]
    )
    units = await record_unplanned_outbound(
        deps.engine,
        order_id=rec.order_id,
        shipment_id=rec.shipment_id,
        node=rec.node,
        lines=shipped,
        reference=f"partner-event:{partner_id}:{event.event_id}",
        note=(
            f"{partner_id} reported {event.type} ({event.event_id}"
            + (f", {event.carrier} {event.tracking}" if event.carrier or event.tracking else "")
            + ") after the order had closed"
        ),
    )
    await keys.remember(
        deps.engine,
        key,
        "partner-event",
        {"order_id": rec.order_id, "type": event.type, "recorded_after_close": units},
    )
    log.warning(
        "%s: %s %s for %s after order %s closed; %d units recorded as unplanned outbound",
        partner_id,
        event.type,
        event.event_id,
        rec.shipment_id,
        rec.order_id,
        units,
    )
    return EventReceipt(
        event_id=event.event_id,
        order_id=rec.order_id,
        shipment_id=rec.shipment_id,
        status="recorded-after-close",
    )


@router.post(
    "/v1/partners/{partner_id}/inventory",
    response_model=FeedResult,
    responses=PROBLEMS,
    openapi_extra={
        **SIGNED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": InventoryFeed.model_json_schema()}},
        },
    },
)
async def partner_inventory(
    partner_id: str, request: Request, deps: ApiDeps = Depends(get_deps)
) -> FeedResult:
    """A node's on-hand, as a snapshot (absolute) or deltas. Changes on_hand only, never
    reservations; applied once per feed_id (a repeat returns the first result, duplicate=true).
    A reported on-hand below what is reserved is kept at the reserved level and returned under
    `shortfalls`."""
    body = await verified_partner_body(request, partner_id, deps.secrets, deps.clock)
    data: Any = parse_json(body)
    try:
        feed = InventoryFeed.model_validate(data)
    except ValidationError as e:
        raise validation_problem(e, "the inventory feed") from None
    try:
        node_owner = deps.network.node(feed.node).partner_id or feed.node
    except KeyError:
        raise Problem(404, "unknown-node", f"node {feed.node!r} is not in the network") from None
    if node_owner != partner_id:
        raise Problem(
            403, "not-your-node", f"partner {partner_id} does not operate node {feed.node}"
        )
    try:
        result = await apply_feed(deps.engine, feed)
    except FeedRejected as e:
        await record_feed_failure(deps.engine, feed.node, str(e), utcnow())  # feed alerts
        raise Problem(422, "feed-rejected", str(e)) from None
    await record_feed_ok(deps.engine, feed.node, utcnow())
    for s in result.shortfalls:
        log.warning("inventory shortfall: %s", s.detail)
    if not result.duplicate:
        await wake_backorders(deps, feed.node, feed.feed_id, result)
    return result


async def wake_backorders(deps: ApiDeps, node: str, feed_id: str, result: FeedResult) -> None:
    """Stock that went up wakes the backorders waiting for it, first come first served."""
    for change in result.changes:
        added = change.on_hand_after - change.on_hand_before
        if added > 0:
            await deps.dom.stock_arrived(
                change.sku, StockArrival(node=node, qty=added, reference=f"{feed_id}:{change.sku}")
            )
