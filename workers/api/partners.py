"""Partner webhooks: fulfilment and shipment events, inventory feeds. Every request is signed
(`X-DOM-Timestamp`, `X-DOM-Signature`) with the partner's own secret.

Order of checks, so a refused request never changes anything: signature (401) -> body (422) ->
already stored (200 duplicate) -> the shipment exists in the DOM's records (404) -> its node
belongs to this partner (403) -> the event's lines are part of it (422) -> store the event
(`partner_events`, committed; 503 + Retry-After if the database cannot take it) -> signal the
order workflow (the only Temporal call an event costs; no query) -> 202.

Once stored, an event is never refused: a signal Temporal does not take now leaves it pending
for the worker's delivery loop (202 "pending"), and an order that has already ended still gets
it recorded (202 "order-closed"). A 4xx means no retry of this request could ever succeed.
docs/partners.md lists every answer and what the partner should do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, cast

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from activities.alerts.feed_health import record_feed_failure, record_feed_ok
from activities.fulfillment.records import ShipmentRecord, lookup_shipment
from activities.inventory.db import utcnow
from activities.inventory.feeds import FeedRejected, FeedResult, apply_feed
from activities.partner_events import delivery, store
from dom_workflows.backorder.models import StockArrival
from dom_workflows.order.models import ShipmentEvent, ShipmentEventType
from dom_workflows.partners.models import (
    EVENT_TO_SHIPMENT_EVENT,
    InventoryFeed,
    PartnerEvent,
    order_id_of_shipment,
)
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
# How long a partner should wait before posting again when the DOM could not store its event.
STORAGE_RETRY_AFTER_SECONDS = 5

ReceiptStatus = Literal["applied", "pending", "order-closed", "recorded-after-close", "duplicate"]
# What the stored event's delivery came to, as the partner is told.
RECEIPT: dict[delivery.Outcome, ReceiptStatus] = {
    "delivered": "applied",
    "pending": "pending",
    "order-closed": "order-closed",
    "recorded-after-close": "recorded-after-close",
}


class EventReceipt(BaseModel):
    """Every 2xx means the DOM holds the event durably: never send it again.

    applied: the order took it. pending: stored, the order is told as soon as Temporal takes the
    signal. order-closed: the order had ended; recorded for ops and reconciliation.
    recorded-after-close: a shipped event for a shipment the DOM had cancelled after the order
    ended; the units were taken out of on_hand and an escalation filed. duplicate: this event
    id was received before (200)."""

    event_id: str
    order_id: str
    shipment_id: str
    status: ReceiptStatus


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


@contextmanager
def _storage_needed(what: str) -> Iterator[None]:
    """The database is how an event becomes durable: if it cannot be read or written, the
    event was not taken, and the partner should simply post it again shortly (503)."""
    try:
        yield
    except (OperationalError, InterfaceError, PoolTimeout, OSError) as e:
        log.warning("partner event not stored (%s): %s", what, e)
        raise Problem(
            503,
            "storage-unavailable",
            f"the DOM could not store {what} just now; nothing was recorded, post it again "
            f"in {STORAGE_RETRY_AFTER_SECONDS} s",
            headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
        ) from None


def _receipt(event: PartnerEvent, order_id: str, status: ReceiptStatus) -> EventReceipt:
    return EventReceipt(
        event_id=event.event_id, order_id=order_id, shipment_id=event.shipment_id, status=status
    )


@router.post(
    "/v1/partners/{partner_id}/events",
    response_model=EventReceipt,
    status_code=202,
    responses={
        200: {"model": EventReceipt, "description": "already received (duplicate)"},
        **PROBLEMS,
    },
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
    202 once the event is stored (applied, pending or order-closed); 200 when this event id was
    received before; 503 with Retry-After when it could not be stored."""
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
    with _storage_needed(f"event {event.event_id}"):
        if await store.find(deps.engine, partner_id, event.event_id) is not None:
            response.status_code = 200
            return _receipt(event, order_id, "duplicate")
        # Who owns the shipment comes from the DOM's own records: no query to the order
        # workflow, so an event costs exactly one Temporal call (the signal).
        rec = await _known_shipment(deps, partner_id, event, order_id)
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
        stored = await store.record(
            deps.engine,
            partner_id=partner_id,
            partner_type=event.type,
            order_id=order_id,
            signal=signal,
        )
    if stored is None:  # the same event id, stored by a concurrent request a moment ago
        response.status_code = 200
        return _receipt(event, order_id, "duplicate")
    # Durable from here on: whatever the signal does, the answer is a 202.
    try:
        outcome = await delivery.deliver(deps.engine, deps.dom.client, stored)
    except Exception:  # e.g. the database went away after the insert
        log.exception("partner event %s stored; delivery left to the worker", event.event_id)
        outcome = "pending"
    log.debug("%s: %s %s for %s: %s", partner_id, event.type, event.event_id, order_id, outcome)
    return _receipt(event, order_id, RECEIPT[outcome])


async def _known_shipment(
    deps: ApiDeps, partner_id: str, event: PartnerEvent, order_id: str
) -> ShipmentRecord:
    """The shipment as the DOM routed it, sent to a node this partner operates. Its
    reservation rows are written before any node hears of it and never deleted, so a shipment
    not found here is one the DOM never created: the 404 is final."""
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
    return rec


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
