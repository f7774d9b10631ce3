"""`dom inventory inbound ...`: purchase orders and transfers on their way to a node. Each
command changes the ledger first (one transaction), then tells the orders whose pre-orders it
touched; when Temporal cannot be reached the change stands and the command says to run it
again (every command is idempotent and tells the orders again)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from workers.cli.common import (
    Address,
    Namespace,
    console,
    database_url,
    fail,
    for_status,
    print_json,
    run,
    settings,
    usage,
)

if TYPE_CHECKING:
    from dom_workflows.inventory.inbound import Inbound, InboundChange
    from workers.inbound_wake import Change

TEMPORAL_CONNECT_TIMEOUT_S = 5.0

inbound_app = typer.Typer(
    help="Stock on its way: purchase orders and transfers expected at a node.",
    no_args_is_help=True,
)


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise usage(f"{text!r} is not an ISO 8601 date-time (e.g. 2031-05-01T12:00:00Z)") from None
    if at.tzinfo is None:
        raise usage(f"{text!r} has no timezone: add Z or an offset (e.g. 2031-05-01T12:00:00Z)")
    return at


async def _tell(engine: Any, change: InboundChange, what: Change) -> dict[str, Any]:
    from workers.client import connect
    from workers.inbound_wake import after_change

    s = settings()
    try:
        client = await asyncio.wait_for(connect(s), TEMPORAL_CONNECT_TIMEOUT_S)
    except (TimeoutError, RuntimeError, OSError) as e:
        return {
            "told": None,
            "warning": f"the change is saved, but Temporal at {s.temporal_address} is not "
            f"reachable ({str(e).splitlines()[0] if str(e) else type(e).__name__}): run the "
            "command again to tell the orders",
        }
    return {"told": await after_change(client, engine, change, what)}


def _apply(op: Callable[[Any], Awaitable[InboundChange]], what: Change) -> None:
    from activities.inventory import inbound
    from activities.inventory.db import create_engine, migrate

    url = database_url(create=True)

    async def go() -> dict[str, Any]:
        engine = create_engine(url)
        try:
            await migrate(engine)
            change = await op(engine)
            return {**change.model_dump(mode="json"), **await _tell(engine, change, what)}
        finally:
            await engine.dispose()

    try:
        out = run(go())
    except inbound.InboundRefused as e:
        raise fail(e.detail, for_status(e.status)) from None
    print_json(out)


@inbound_app.command("add")
def add(
    inbound_id: str = typer.Argument(..., help="The PO or transfer number (idempotency key)."),
    node: str = typer.Argument(...),
    sku: str = typer.Argument(...),
    qty: int = typer.Argument(..., min=1),
    expected: str = typer.Option(..., help="Expected arrival, ISO 8601 with a timezone."),
    kind: str = typer.Option("po", help="po or transfer."),
    source: str = typer.Option("", help="Supplier or sending node."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Announce (or update) stock on its way to a node."""
    from pydantic import ValidationError

    from activities.inventory import inbound
    from dom_workflows.inventory.inbound import InboundRequest

    try:
        req = InboundRequest(
            id=inbound_id,
            kind=kind,  # validated just here
            node=node,
            sku=sku,
            qty=qty,
            expected_at=_when(expected),
            source=source,
        )
    except ValidationError as e:
        raise usage(
            "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        ) from None

    async def op(engine: Any) -> InboundChange:
        change, _ = await inbound.upsert(engine, req)
        return change

    _apply(op, "updated")


@inbound_app.command("list")
def list_cmd(
    sku: str | None = typer.Option(None),
    status: str | None = typer.Option(None, help="open, received or cancelled."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Inbound supply, earliest expected first."""
    from activities.inventory import inbound
    from activities.inventory.db import create_engine

    url = database_url()

    async def go() -> list[Inbound]:
        engine = create_engine(url)
        try:
            return await inbound.list_inbound(engine, sku=sku, status=status)
        finally:
            await engine.dispose()

    rows = run(go())
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        console.print("No inbound supply.")
        return
    table = Table(
        "id",
        "kind",
        "node",
        "SKU",
        "qty",
        "received",
        "pre-ordered",
        "free",
        "expected",
        "status",
        title="Inbound supply",
    )
    for r in rows:
        table.add_row(
            r.id,
            r.kind,
            r.node,
            r.sku,
            str(r.qty),
            str(r.received),
            str(r.allocated),
            str(r.available),
            f"{r.expected_at:%Y-%m-%d %H:%M %Z}",
            r.status,
        )
    console.print(table)


@inbound_app.command("receive")
def receive(
    inbound_id: str,
    qty: int | None = typer.Option(None, min=1, help="Units that arrived (default: all due)."),
    reference: str | None = typer.Option(None, help="Receipt id (ASN); a repeat is applied once."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """The inbound arrived: on_hand up, pre-ordered units reserved for their orders (first come
    first served), and those orders woken to ship them."""
    from activities.inventory import inbound

    _apply(lambda engine: inbound.receive(engine, inbound_id, qty, reference), "received")


@inbound_app.command("delay")
def delay(
    inbound_id: str,
    expected: str = typer.Argument(..., help="New expected arrival."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """A new expected date; the orders pre-ordered against it show it."""
    from activities.inventory import inbound

    at = _when(expected)
    _apply(lambda engine: inbound.delay(engine, inbound_id, at), "delayed")


@inbound_app.command("cancel")
def cancel(inbound_id: str, address: Address = None, namespace: Namespace = None) -> None:
    """What is still due will not come: pre-orders move to other inbound or lose their date."""
    from activities.inventory import inbound

    _apply(lambda engine: inbound.cancel(engine, inbound_id), "cancelled")
