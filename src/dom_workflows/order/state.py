"""Pure bookkeeping over OrderState: unit accounting, status derivation, cancellation arithmetic
and the Markdown the Temporal UI shows. No Temporal calls here, so it is trivially deterministic."""

from __future__ import annotations

from dom_workflows.common.text import count
from dom_workflows.order.markdown import code_table, text
from dom_workflows.order.models import (
    CancelRequest,
    LineState,
    OrderState,
    OrderStatus,
    Shipment,
    ShipmentStatus,
)

SHIPPED_STATES = (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED)
TERMINAL = (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED)


def line(state: OrderState, line_id: str) -> LineState:
    for ln in state.lines:
        if ln.line_id == line_id:
            return ln
    raise KeyError(line_id)


def pending_units(ln: LineState) -> int:
    """Units of a line that still need a node: not allocated, backordered or cancelled."""
    return ln.qty - ln.allocated - ln.backordered - ln.cancelled


def cancellable_units(state: OrderState, ln: LineState) -> int:
    return ln.qty - ln.cancelled - ln.shipped


def open_shipments(state: OrderState) -> list[Shipment]:
    return [s for s in state.shipments if s.status.is_open]


def cancellation_plan(state: OrderState, req: CancelRequest) -> tuple[dict[str, int], str | None]:
    """Units to cancel per line, or the reason the request must be refused."""
    if state.status in TERMINAL:
        return {}, f"order {state.order_id} is already {state.status.value}"
    if req.lines is None:
        plan = {ln.line_id: cancellable_units(state, ln) for ln in state.lines}
        plan = {k: v for k, v in plan.items() if v > 0}
        if not plan:
            return {}, (
                "every unit has already shipped or been cancelled; "
                "nothing can be cancelled (start a return instead)"
            )
        return plan, None
    plan = {}
    known = {ln.line_id: ln for ln in state.lines}
    for cl in req.lines:
        ln = known.get(cl.line_id)
        if ln is None:
            return {}, f"order {state.order_id} has no line {cl.line_id!r}"
        can = cancellable_units(state, ln)
        want = can if cl.qty is None else cl.qty
        if cl.qty is not None and cl.qty <= 0:
            return {}, f"line {cl.line_id}: quantity to cancel must be at least 1"
        if want > can or can == 0:
            return {}, (
                f"line {cl.line_id}: {count(want, 'unit')} requested but only {can} of {ln.qty} can be "
                f"cancelled ({ln.shipped} shipped, {ln.cancelled} already cancelled)"
            )
        plan[cl.line_id] = plan.get(cl.line_id, 0) + want
    return plan, None


def derive_status(state: OrderState) -> OrderStatus:
    if state.status in TERMINAL:
        return state.status
    if state.holds:
        return OrderStatus.ON_HOLD
    live = [s for s in state.shipments if s.status not in DEAD]
    if not live:
        return OrderStatus.RECEIVED if not state.routes else OrderStatus.ROUTED
    shipped = sum(ln.shipped for ln in state.lines)
    to_ship = sum(ln.qty - ln.cancelled for ln in state.lines)
    if shipped and shipped >= to_ship:
        return OrderStatus.SHIPPED
    if shipped:
        return OrderStatus.PARTIALLY_SHIPPED
    if any(s.status == ShipmentStatus.ACCEPTED for s in live):
        return OrderStatus.FULFILLING
    return OrderStatus.ROUTED


DEAD = (ShipmentStatus.REJECTED, ShipmentStatus.CANCELLED, ShipmentStatus.TIMED_OUT)


def active_nodes(state: OrderState) -> list[str]:
    return sorted({s.node for s in state.shipments if s.status not in DEAD})


def details_markdown(state: OrderState) -> str:
    """What the Temporal UI shows as the workflow's current details: the order's lines and
    shipments as aligned tables (dom_workflows/order/markdown.py says why not GitHub tables),
    and the latest events, each named with the signal or update that brought it."""
    out = [
        f"**{state.status.value}** · {text(state.channel)} · customer {text(state.customer_id)} "
        f"({state.customer_tier}) · {state.order_value}",
        "",
        code_table(
            ("line", "sku", "qty", "shipped", "delivered", "backordered", "cancelled"),
            [
                (ln.line_id, ln.sku, ln.qty, ln.shipped, ln.delivered, ln.backordered, ln.cancelled)
                for ln in state.lines
            ],
        ),
    ]
    if state.shipments:
        out += [
            "",
            code_table(
                ("shipment", "node", "status", "carrier", "tracking"),
                [
                    (s.shipment_id, s.node, s.status.value, s.carrier or "", s.tracking or "")
                    for s in state.shipments
                ],
            ),
        ]
    if state.escalations:
        out += ["", "**Escalations**", "", *[f"- {text(e)}" for e in state.escalations]]
    if state.stop_reason:
        out += ["", f"**Stopped:** {text(state.stop_reason)}"]
    if state.timeline:
        out += ["", f"**Latest events** (of {len(state.timeline)}; newest first)", ""]
        out += [
            f"- {ev.at:%H:%M:%S} **{ev.kind}** {text(ev.message)}" + _cause(ev.kind)
            for ev in reversed(state.timeline[-LATEST_EVENTS:])
        ]
    return "\n".join(out)


LATEST_EVENTS = 8
# What brings each timeline event into the order, so the UI's list of signal and Update events
# (shown by their names only) can be read: `shipment_event` is a node's or carrier's report...
CAUSES = {
    "accepted": "signal shipment_event: the node accepted the fulfilment request",
    "rejected": "signal shipment_event: the node refused it; the units are re-routed",
    "shipped": "signal shipment_event: the carrier picked the parcel up",
    "delivered": "signal shipment_event: the carrier delivered it",
    "ignored": "signal shipment_event: a report that no longer applies",
    "stock": "signal backorder_stock: stock for a waiting SKU arrived",
    "inbound": "signal inbound_changed: pre-ordered inbound is late or cancelled",
    "consolidated": "signal consolidated: ships in one parcel with the customer's other orders",
    "cancelled": "Update cancel: a channel or ops cancelled units",
    "hold": "Update place_hold: nothing new goes to nodes until released",
    "hold-released": "Update release_hold",
}


def _cause(kind: str) -> str:
    cause = CAUSES.get(kind)
    if cause is None:
        return ""
    via, _, meaning = cause.partition(": ")
    kind_of, _, name = via.partition(" ")
    return f" ({kind_of} `{name}`" + (f": {meaning})" if meaning else ")")
