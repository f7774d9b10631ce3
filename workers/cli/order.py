"""`dom order ...` and `dom shipment ...`: channels' and ops' view of orders."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dom_workflows.common.text import count
from workers.cli.common import (
    Address,
    Namespace,
    console,
    err_console,
    fail,
    not_found,
    print_json,
    run,
    settings,
    usage,
)

if TYPE_CHECKING:
    from dom_workflows.order.models import OrderRequest, OrderState, PlaceHold, ReleaseHold
    from workers.client import DomClient

# The order models (pydantic) and the Temporal client take seconds to import: they are
# imported inside the commands. These two enums mirror OrderStatus and ShipmentEventType for
# the flags' choices (tests/cli/test_startup.py checks that they stay equal).
DEFAULT_LIMIT = 50  # workers.order_search.DEFAULT_LIMIT / MAX_LIMIT, checked by the same test
MAX_LIMIT = 200


class StatusChoice(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    FULFILLING = "fulfilling"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ON_HOLD = "on_hold"


class EventChoice(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


order_app = typer.Typer(help="Submit, inspect and cancel orders.", no_args_is_help=True)
shipment_app = typer.Typer(help="Report fulfilment and carrier events.", no_args_is_help=True)


def load_order(path: Path) -> OrderRequest:
    from pydantic import ValidationError

    from dom_workflows.order.models import OrderRequest

    try:
        return OrderRequest.model_validate_json(path.read_text())
    except OSError as e:
        raise usage(f"cannot read {path}: {e.strerror}") from None
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise usage(f"{path} is not a valid order: {problems}") from None


@order_app.command("submit")
def submit(
    file: Path = typer.Argument(..., help="Order JSON (see examples/orders/)."),
    wait: float = typer.Option(
        10.0, help="Seconds to wait for the order's validation (0: do not wait)."
    ),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Start an order and wait for its validation; an invalid order is refused (exit code 1).
    Submitting the same order id again returns the existing order."""
    from dom_workflows.order.models import OrderStatus
    from workers.client import DomClient

    order = load_order(file)

    async def go() -> OrderState | None:
        dom = await DomClient.connect(settings())
        s = await dom.submit(order)
        state = await _validated(dom, order.order_id, wait)
        if state is None or state.status != OrderStatus.FAILED:
            print_json(
                {
                    "order_id": s.order_id,
                    "workflow_id": s.workflow_id,
                    "run_id": s.run_id,
                    "created": s.created,
                    "status": state.status.value if state else None,
                }
            )
        return state

    state = run(go())
    if state is None and wait > 0:
        err_console.print(
            f"{order.order_id} is submitted but not validated after {wait:g}s: is a worker "
            f"running? `dom order show {order.order_id}` follows it."
        )
    if state is not None and state.status == OrderStatus.FAILED:
        raise fail(f"order {order.order_id} was refused: {state.stop_reason or 'failed'}")


async def _validated(dom: DomClient, order_id: str, wait: float) -> OrderState | None:
    """The order's state once validation is over (it failed, or it moved past `received`);
    None if that did not happen within `wait` seconds."""
    from dom_workflows.order.models import OrderStatus
    from workers.client import OrderNotFound

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        try:
            state = await dom.status(order_id)
        except OrderNotFound:
            state = None
        if state is not None and (
            state.status == OrderStatus.FAILED or any(e.kind == "validated" for e in state.timeline)
        ):
            return state
        await asyncio.sleep(0.1)
    return None


def render(state: OrderState) -> None:
    console.print(
        f"[bold]{state.order_id}[/bold]  {state.status.value}  · {state.channel} · "
        f"{state.customer_id} ({state.customer_tier}) · {state.order_value}"
    )
    lines = Table("line", "sku", "qty", "shipped", "delivered", "backordered", "cancelled")
    for ln in state.lines:
        lines.add_row(
            ln.line_id,
            ln.sku,
            *(str(x) for x in (ln.qty, ln.shipped, ln.delivered, ln.backordered, ln.cancelled)),
        )
    console.print(lines)
    if state.shipments:
        ships = Table("shipment", "node", "lines", "status", "carrier", "tracking")
        for s in state.shipments:
            ships.add_row(
                s.shipment_id,
                s.node,
                ", ".join(f"{sl.sku} x{sl.qty}" for sl in s.lines),
                s.status.value,
                s.carrier or "",
                s.tracking or "",
            )
        console.print(ships)
    if state.backorders:
        waiting = Table("line", "sku", "qty", "expected", "inbound", title="Backorders")
        for b in state.backorders:
            when = (
                "arrived"
                if b.arrived
                else f"{b.expected_at:%Y-%m-%d}"
                if b.expected_at is not None
                else "no date yet"
            )
            waiting.add_row(b.line, b.sku, str(b.qty), when, b.inbound or "")
        console.print(waiting)
    for r in state.routes:
        console.print(f"route {r.attempt} ({r.strategy}): {r.summary}")
    timeline = Table("at", "event", "message")
    for ev in state.timeline:
        timeline.add_row(ev.at.strftime("%Y-%m-%d %H:%M:%S"), ev.kind, ev.message)
    console.print(timeline)
    for e in state.escalations:
        console.print(f"[yellow]escalation:[/yellow] {e}")
    if state.stop_reason:
        console.print(f"stopped: {state.stop_reason}")


@order_app.command("show")
def show(
    order_id: str,
    as_json: bool = typer.Option(False, "--json", help="Print the query result as JSON."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """The order's whole state: lines, plan, shipments and timeline."""
    from workers.cli.temporal import order_state

    state = run(order_state(order_id))  # an unknown order exits 3 (workers/cli/errors.py)
    if as_json:
        print_json(state)
    else:
        render(state)


@order_app.command("cancel")
def cancel(
    order_id: str,
    reason: str = typer.Option("customer request", help="Why, for the timeline."),
    line: list[str] = typer.Option(
        [], "--line", help="LINE_ID or LINE_ID:QTY; repeat. Omit to cancel the whole order."
    ),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Cancel an order or some of its units; refused (exit 1) once everything has shipped."""
    from dom_workflows.order.models import CancelLine, CancelRequest
    from workers.client import CancelRefused, DomClient

    lines = None
    if line:
        lines = []
        for spec in line:
            lid, _, qty = spec.partition(":")
            if qty and not qty.isdigit():
                raise usage(f"--line {spec!r}: quantity must be a whole number")
            lines.append(CancelLine(line_id=lid, qty=int(qty) if qty else None))

    async def go() -> None:
        dom = await DomClient.connect(settings())
        print_json(
            await dom.cancel(
                order_id, CancelRequest(reason=reason, lines=lines, requested_by="cli")
            )
        )

    try:
        run(go())
    except CancelRefused as e:
        raise fail(f"cancellation refused: {e}") from None


@order_app.command("hold")
def hold(
    order_id: str,
    reason: str = typer.Option(..., help="Why the order is held (shown in the timeline)."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Put a manual hold on an order: nothing new goes to nodes until it is released."""
    from dom_workflows.order.models import PlaceHold

    _hold_call(order_id, PlaceHold(kind="manual", reason=reason, placed_by="cli"))


@order_app.command("release")
def release(
    order_id: str,
    kind: str | None = typer.Option(None, help="fraud|payment|manual; default: every hold."),
    note: str = typer.Option("released from the CLI"),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Release an order's holds."""
    from dom_workflows.order.models import ReleaseHold

    if kind not in (None, "fraud", "payment", "manual", "consolidation"):
        raise usage(f"--kind {kind!r}: use fraud, payment, manual or consolidation")
    _hold_call(order_id, ReleaseHold(kind=kind, note=note, released_by="cli"))


def _hold_call(order_id: str, req: PlaceHold | ReleaseHold) -> None:
    from dom_workflows.order.models import PlaceHold
    from workers.client import DomClient, HoldRefused

    async def go() -> None:
        dom = await DomClient.connect(settings())
        if isinstance(req, PlaceHold):
            holds = await dom.place_hold(order_id, req)
        else:
            holds = await dom.release_hold(order_id, req)
        print_json({"order_id": order_id, "holds": [h.model_dump(mode="json") for h in holds]})

    try:
        run(go())
    except HoldRefused as e:
        raise fail(str(e)) from None


def _when(value: str | None, flag: str) -> datetime | None:
    """An ISO 8601 time from a flag; without an offset it is UTC."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise usage(f"{flag} {value!r} is not an ISO 8601 time (e.g. 2026-03-01T09:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@order_app.command("list")
def list_orders(
    status: list[StatusChoice] = typer.Option(
        [], "--status", help="Order status; repeat for several."
    ),
    channel: str | None = typer.Option(None, help="Sales channel."),
    customer: str | None = typer.Option(None, help="Customer id."),
    node: str | None = typer.Option(None, help="A node that fulfils the order."),
    escalated: bool | None = typer.Option(None, "--escalated/--not-escalated"),
    backordered: bool | None = typer.Option(None, "--backordered/--not-backordered"),
    created_from: str | None = typer.Option(None, "--from", help="Started at or after (ISO)."),
    created_to: str | None = typer.Option(None, "--to", help="Started at or before (ISO)."),
    limit: int = typer.Option(DEFAULT_LIMIT, min=1, max=MAX_LIMIT, help="Orders per page."),
    cursor: str | None = typer.Option(None, help="`next_cursor` of the previous page."),
    as_json: bool = typer.Option(False, "--json", help="Print the page as JSON."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Orders as Temporal visibility sees them (search attributes; no workflow is queried),
    newest first, one page at a time: the same filters as GET /v1/orders."""
    from pydantic import ValidationError

    from dom_workflows.order.models import OrderStatus
    from workers.client import DomClient
    from workers.order_search import InvalidFilter, OrderFilters, OrderPage
    from workers.order_search import list_orders as search_orders

    try:
        filters = OrderFilters(
            status=[OrderStatus(s.value) for s in status],
            channel=channel,
            customer=customer,
            node=node,
            escalated=escalated,
            backordered=backordered,
            created_from=_when(created_from, "--from"),
            created_to=_when(created_to, "--to"),
        )
    except ValidationError as e:
        raise usage(f"bad filters: {e.errors()[0]['msg']}") from None

    async def go() -> OrderPage:
        dom = await DomClient.connect(settings())
        return await search_orders(dom.client, filters, limit, cursor)

    try:
        page = run(go())
    except InvalidFilter as e:
        raise usage(str(e)) from None
    if as_json:
        print_json(page)
        return
    table = Table(
        "order", "status", "channel", "customer", "tier", "value", "nodes", "flags", "started"
    )
    for o in page.items:
        flags = [f for f, on in (("escalated", o.escalated), ("backordered", o.backordered)) if on]
        table.add_row(
            o.order_id,
            o.status or "",
            o.channel or "",
            o.customer_id or "",
            o.tier or "",
            " ".join(v for v in (o.value, o.currency) if v),
            ", ".join(o.nodes),
            ", ".join(flags),
            o.started_at.strftime("%Y-%m-%d %H:%M:%S") if o.started_at else "",
        )
    console.print(table)
    console.print(f"{count(len(page.items), 'order')}")
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


@shipment_app.command("event")
def shipment_event(
    order: str = typer.Option(..., "--order", help="Order id."),
    shipment: str = typer.Option(
        ..., "--shipment", help="Shipment id, as `dom order show` lists it."
    ),
    type_: EventChoice = typer.Option(..., "--type", help="accepted|rejected|shipped|delivered"),
    tracking: str | None = typer.Option(None),
    carrier: str | None = typer.Option(None),
    reason: str | None = typer.Option(None, help="Why, for a rejection."),
    event_id: str | None = typer.Option(None, help="Idempotency key; a repeat is ignored."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Send a node's or carrier's event to an order (as a partner webhook would)."""
    from dom_workflows.order.models import ShipmentEvent
    from workers.client import DomClient

    ev = ShipmentEvent(
        event_id=event_id or f"cli-{uuid.uuid4()}",
        shipment_id=shipment,
        type=type_.value,
        tracking=tracking,
        carrier=carrier or ("CLI" if type_ in ("shipped", "delivered") else None),
        reason=reason,
    )

    async def go() -> None:
        dom = await DomClient.connect(settings())
        state = await dom.status(order)
        if shipment not in {s.shipment_id for s in state.shipments}:
            known = ", ".join(s.shipment_id for s in state.shipments) or "none yet"
            raise not_found(f"order {order} has no shipment {shipment} (it has: {known})")
        await dom.send_shipment_event(order, ev)
        print_json({"order_id": order, "event": json.loads(ev.model_dump_json())})

    run(go())
