"""The comparisons themselves: plain functions over what partners listed and what the DOM holds,
no I/O, so each rule can be read (and tested) on its own.

The DOM's side of an order is its workflow state (shipments with status, capture and label ids;
the payment summary) and its `reservations` rows (activities/fulfillment/records.py: every
shipment the DOM ever routed). A partner record changed within the settle time is skipped: its
event may still be on its way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from dom_workflows.order.models import OrderState, Shipment, ShipmentEvent, ShipmentStatus
from dom_workflows.partners.models import EVENT_TO_SHIPMENT_EVENT, order_id_of_shipment
from dom_workflows.reconcile.models import Finding, Repair

# How far a shipment has come, on each side. A node's "stalled" is accepted (it never ships).
DOM_RANK = {
    ShipmentStatus.REQUESTED: 0,
    ShipmentStatus.ACCEPTED: 1,
    ShipmentStatus.SHIPPED: 2,
    ShipmentStatus.DELIVERED: 3,
}
NODE_RANK = {"received": 0, "accepted": 1, "stalled": 1, "shipped": 2, "delivered": 3}
EVENT_RANK = {"accepted": 1, "shipped": 2, "delivered": 3, "rejected": 1}
DOM_GAVE_UP = (ShipmentStatus.REJECTED, ShipmentStatus.CANCELLED, ShipmentStatus.TIMED_OUT)


@dataclass
class OrderView:
    """The DOM's side of one order. `state` None: no workflow answers for it."""

    order_id: str
    state: OrderState | None
    routed: dict[str, str] = field(default_factory=dict)  # shipment id -> node (reservations)
    # Refunded through the provider by the order's returns (their workflows record them).
    returns_refunded: Decimal = Decimal(0)

    def shipment(self, shipment_id: str) -> Shipment | None:
        if self.state is None:
            return None
        return next((s for s in self.state.shipments if s.shipment_id == shipment_id), None)

    def knows(self, shipment_id: str) -> bool:
        return shipment_id in self.routed or self.shipment(shipment_id) is not None


Settled = Callable[[Mapping[str, Any]], bool]


def settled_before(cutoff: datetime) -> Settled:
    """A record last changed at or before `cutoff` (partners send `updated_at`)."""

    def check(record: Mapping[str, Any]) -> bool:
        raw = record.get("updated_at") or record.get("created_at")
        return raw is None or datetime.fromisoformat(str(raw)) <= cutoff

    return check


def _order_of(shipment_id: str) -> str | None:
    try:
        return order_id_of_shipment(shipment_id)
    except ValueError:
        return None


def _node_evidence(node: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "node": node,
        "node_status": record.get("status"),
        "node_lines": record.get("lines", []),
        "node_updated_at": record.get("updated_at"),
        "node_events": [e.get("event_id") for e in record.get("events", [])],
    }


def _missing_events(record: Mapping[str, Any], dom_rank: int) -> list[ShipmentEvent]:
    """The node's events the DOM's status does not reflect yet, in the order the node sent
    them, with their original event ids (the order ignores one it has already seen)."""
    events: list[ShipmentEvent] = []
    for e in record.get("events", []):
        kind = EVENT_TO_SHIPMENT_EVENT.get(str(e.get("type")))
        if kind is None or (kind != "rejected" and EVENT_RANK[kind] <= dom_rank):
            continue
        events.append(
            ShipmentEvent(
                event_id=str(e["event_id"]),
                shipment_id=str(e["shipment_id"]),
                type=kind,
                carrier=e.get("carrier"),
                tracking=e.get("tracking"),
                reason=e.get("reason"),
                lines=e.get("lines"),
                occurred_at=e.get("occurred_at"),
            )
        )
    return events


def node_findings(
    orders: Mapping[str, OrderView],
    node: str,
    records: Iterable[Mapping[str, Any]],
    settled: Settled,
) -> list[Finding]:
    """Every request the node holds belongs to a shipment the DOM knows, in the same state."""
    found: list[Finding] = []
    for r in records:
        if not settled(r):
            continue
        sid = str(r["shipment_id"])
        order_id = _order_of(sid)
        view = orders.get(order_id) if order_id else None
        evidence = _node_evidence(node, r)
        if view is None or not view.knows(sid):
            found.append(
                Finding(
                    kind="unknown-shipment",
                    subject=sid,
                    order_id=order_id,
                    summary=f"{node} holds request {sid} ({r.get('status')}), which the DOM "
                    "never routed",
                    evidence=evidence
                    | {
                        "dom_shipments": sorted(view.routed) if view else [],
                        "order_known": bool(view),
                    },
                )
            )
            continue
        sh = view.shipment(sid)
        if sh is None:
            continue  # routed, but no workflow answers for the order: nothing to compare with
        node_status = str(r.get("status"))
        evidence |= {"dom_status": sh.status.value}
        finding = _status_finding(view.order_id, node, sh, node_status, r, evidence)
        if finding is not None:
            found.append(finding)
    return found


def _status_finding(
    order_id: str,
    node: str,
    sh: Shipment,
    node_status: str,
    record: Mapping[str, Any],
    evidence: dict[str, Any],
) -> Finding | None:
    sid = sh.shipment_id
    lost = f"{node} reports {sid} {node_status}, the DOM still shows it {sh.status.value}"
    if node_status == "rejected":
        if sh.status in DOM_GAVE_UP:
            return None
        if sh.status in (ShipmentStatus.REQUESTED, ShipmentStatus.ACCEPTED):
            return _lost(
                order_id, sid, lost, evidence, _missing_events(record, DOM_RANK[sh.status])
            )
    elif node_status == "cancelled":
        if sh.status in DOM_GAVE_UP:
            return None
    elif node_status in NODE_RANK:
        if sh.status in DOM_GAVE_UP:
            pass  # the DOM gave the units back, the node still has (or shipped) them
        elif NODE_RANK[node_status] > DOM_RANK[sh.status]:
            return _lost(
                order_id, sid, lost, evidence, _missing_events(record, DOM_RANK[sh.status])
            )
        elif NODE_RANK[node_status] == DOM_RANK[sh.status]:
            return None
    return Finding(
        kind="status-mismatch",
        subject=sid,
        order_id=order_id,
        summary=f"{node} says {sid} is {node_status}, the DOM says {sh.status.value}",
        evidence=evidence,
    )


def _lost(
    order_id: str, sid: str, summary: str, evidence: dict[str, Any], events: list[ShipmentEvent]
) -> Finding:
    if not events:  # the node cannot say what it sent: nothing to re-deliver
        return Finding(
            kind="status-mismatch",
            subject=sid,
            order_id=order_id,
            summary=summary,
            evidence=evidence,
        )
    return Finding(
        kind="lost-event",
        subject=sid,
        order_id=order_id,
        summary=summary + f"; re-deliver {', '.join(e.event_id for e in events)}",
        evidence=evidence | {"events": [e.model_dump(mode="json") for e in events]},
        repair=Repair(
            kind="redeliver-events",
            idempotency_key=f"reconcile:redeliver:{sid}",
            order_id=order_id,
            events=events,
        ),
    )


# Shipments the node must have: it was asked and has not been told to forget them.
AT_NODE = (
    ShipmentStatus.REQUESTED,
    ShipmentStatus.ACCEPTED,
    ShipmentStatus.SHIPPED,
    ShipmentStatus.DELIVERED,
)


def expected_at_node(orders: Iterable[OrderView], node: str, cutoff: datetime) -> list[Shipment]:
    """The DOM's shipments at `node` the node should hold (requested before `cutoff`)."""
    return [
        sh
        for view in orders
        if view.state is not None
        for sh in view.state.shipments
        if sh.node == node
        and sh.status in AT_NODE
        and (sh.requested_at is None or sh.requested_at <= cutoff)
    ]


def never_delivered(order_id: str, node: str, sh: Shipment) -> Finding:
    return Finding(
        kind="never-delivered",
        subject=sh.shipment_id,
        order_id=order_id,
        summary=f"the DOM shows {sh.shipment_id} {sh.status.value} at {node}, which has no such "
        "request",
        evidence={
            "node": node,
            "dom_status": sh.status.value,
            "requested_at": sh.requested_at.isoformat() if sh.requested_at else None,
            "lines": [ln.model_dump(mode="json") for ln in sh.lines],
        },
    )


def _amount(m: Mapping[str, Any] | None) -> Decimal:
    return Decimal(str(m["amount"])) if m else Decimal(0)


def payment_findings(
    orders: Mapping[str, OrderView],
    auths: Iterable[Mapping[str, Any]],
    captures: Iterable[Mapping[str, Any]],
    refunds: Iterable[Mapping[str, Any]],
    settled: Settled,
) -> list[Finding]:
    """Captures belong to shipments the order records, at the amounts it records; the order's
    captured and refunded totals are the provider's."""
    found: list[Finding] = []
    orphaned: dict[str, Decimal] = {}  # authorization -> orphan captures found on it
    caps = [c for c in captures if c.get("status", "captured") != "voided"]
    for c in caps:
        if not settled(c):
            continue
        sid = str(c["shipment_id"])
        order_id = str(c.get("order_id") or _order_of(sid) or "")
        view = orders.get(order_id)
        evidence = {
            "capture_id": c["capture_id"],
            "authorization_id": c["authorization_id"],
            "shipment_id": sid,
            "amount": c["amount"],
            "captured_at": c.get("created_at"),
        }
        if view is None or not view.knows(sid):
            orphaned[str(c["authorization_id"])] = orphaned.get(
                str(c["authorization_id"]), Decimal(0)
            ) + _amount(c["amount"])
            found.append(
                Finding(
                    kind="orphan-capture",
                    subject=str(c["capture_id"]),
                    order_id=order_id or None,
                    summary=f"capture {c['capture_id']} of {_amount(c['amount'])} "
                    f"{c['amount']['currency']} is for shipment {sid}, which the DOM never routed",
                    evidence=evidence | {"dom_shipments": sorted(view.routed) if view else []},
                    repair=Repair(
                        kind="void-capture",
                        idempotency_key=f"reconcile:void-capture:{c['capture_id']}",
                        order_id=order_id or None,
                        capture_id=str(c["capture_id"]),
                    ),
                )
            )
            continue
        sh = view.shipment(sid)
        if sh is None:
            continue
        recorded = {
            "dom_capture_id": sh.capture_id,
            "dom_captured": sh.captured.model_dump(mode="json") if sh.captured else None,
        }
        if sh.capture_id != c["capture_id"]:
            found.append(
                Finding(
                    kind="unrecorded-capture",
                    subject=str(c["capture_id"]),
                    order_id=order_id,
                    summary=f"the provider captured {_amount(c['amount'])} for {sid}; the order "
                    + (
                        f"records capture {sh.capture_id} instead"
                        if sh.capture_id
                        else "records no capture for it"
                    ),
                    evidence=evidence | recorded,
                )
            )
        elif sh.captured is None or sh.captured.amount != _amount(c["amount"]):
            found.append(
                Finding(
                    kind="capture-amount-mismatch",
                    subject=str(c["capture_id"]),
                    order_id=order_id,
                    summary=f"capture {c['capture_id']} for {sid} is {_amount(c['amount'])} at the "
                    f"provider, {sh.captured.amount if sh.captured else 'nothing'} in the order",
                    evidence=evidence | recorded,
                )
            )
    refunded: dict[str, Decimal] = {}
    for ref in refunds:
        refunded[str(ref["order_id"])] = refunded.get(str(ref["order_id"]), Decimal(0)) + _amount(
            ref["amount"]
        )
    for a in auths:
        if not settled(a):
            continue
        order_id = str(a["order_id"])
        view = orders.get(order_id)
        pay = view.state.payment if view and view.state else None
        aid = str(a["authorization_id"])
        evidence = {
            "authorization_id": aid,
            "provider_amount": a["amount"],
            "provider_captured": a["captured"],
            "provider_status": a["status"],
        }
        if pay is None or pay.authorization_id != aid:
            if view is not None and view.state is None:
                continue  # no workflow answers: nothing to compare with
            found.append(
                Finding(
                    kind="unknown-authorization",
                    subject=aid,
                    order_id=order_id,
                    summary=f"authorization {aid} for order {order_id} is not the order's "
                    + (f"({pay.authorization_id})" if pay and pay.authorization_id else "payment"),
                    evidence=evidence
                    | {"dom_authorization_id": pay.authorization_id if pay else None},
                )
            )
            continue
        provider = _amount(a["captured"]) - orphaned.get(aid, Decimal(0))
        provider_refunded = refunded.get(order_id, Decimal(0))
        dom_refunded = pay.refunded.amount + (view.returns_refunded if view else Decimal(0))
        if provider != pay.captured.amount or provider_refunded != dom_refunded:
            found.append(
                Finding(
                    kind="payment-total-mismatch",
                    subject=aid,
                    order_id=order_id,
                    summary=f"order {order_id}: captured {pay.captured.amount} / refunded "
                    f"{dom_refunded} in its payment books, {provider} / "
                    f"{provider_refunded} at the provider",
                    evidence=evidence
                    | {
                        "provider_refunded": str(provider_refunded),
                        "dom_captured": str(pay.captured.amount),
                        "dom_refunded": str(dom_refunded),
                        "orphan_captures": str(orphaned.get(aid, Decimal(0))),
                    },
                )
            )
    return found


def label_findings(
    orders: Mapping[str, OrderView],
    labels: Iterable[Mapping[str, Any]],
    returns: set[str],
    settled: Settled,
) -> list[Finding]:
    """Every live label belongs to a DOM shipment (outbound) or RMA (return)."""
    found: list[Finding] = []
    for lb in labels:
        if lb.get("voided") or lb.get("status") == "voided" or not settled(lb):
            continue
        label_id, sid = str(lb["label_id"]), str(lb["shipment_id"])
        if lb.get("is_return"):
            if sid in returns:
                continue
        else:
            order_id = str(lb.get("order_id") or _order_of(sid) or "")
            view = orders.get(order_id)
            if view is not None and view.state is None:
                continue  # no workflow answers: nothing to compare with
            sh = view.shipment(sid) if view else None
            if sh is not None and sh.label_id == label_id:
                continue
        found.append(
            Finding(
                kind="orphan-label",
                subject=label_id,
                order_id=str(lb.get("order_id")) if lb.get("order_id") else None,
                summary=f"live {lb.get('carrier')} label {label_id} ({lb.get('tracking')}) for "
                f"{sid} is on no DOM {'return' if lb.get('is_return') else 'shipment'}",
                evidence={
                    "label_id": label_id,
                    "shipment_id": sid,
                    "carrier": lb.get("carrier"),
                    "tracking": lb.get("tracking"),
                    "cost": lb.get("cost"),
                    "is_return": bool(lb.get("is_return")),
                    "created_at": lb.get("created_at"),
                },
                repair=Repair(
                    kind="void-label",
                    idempotency_key=f"reconcile:void-label:{label_id}",
                    order_id=str(lb.get("order_id")) if lb.get("order_id") else None,
                    label_id=label_id,
                ),
            )
        )
    return found
