"""`dom return ...`: open an RMA for a delivered order, show it, report its receipt."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from workers.cli.common import (
    Address,
    Namespace,
    console,
    fail,
    print_json,
    run,
    settings,
    usage,
)

if TYPE_CHECKING:
    from dom_workflows.returns.models import (
        ExchangeLine,
        ReceivedUnits,
        ReturnLineRequest,
        ReturnState,
    )

return_app = typer.Typer(help="Returns (RMAs): open, show, report receipt.", no_args_is_help=True)


def _split(spec: str, option: str, parts: int) -> list[str]:
    fields = spec.split(":")
    if len(fields) != parts or not all(fields):
        raise usage(f"{option} {spec!r}: expected {':'.join(['X'] * parts)}")
    return fields


def _qty(spec: str, value: str, option: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise usage(f"{option} {spec!r}: quantity must be a whole number >= 1")
    return int(value)


def parse_lines(specs: list[str], reason: str) -> list[ReturnLineRequest]:
    from dom_workflows.returns.models import ReturnLineRequest

    out = []
    for spec in specs:
        lid, qty = _split(spec, "--line", 2)
        out.append(ReturnLineRequest(line_id=lid, qty=_qty(spec, qty, "--line"), reason=reason))
    return out


def parse_exchange(specs: list[str]) -> list[ExchangeLine] | None:
    from dom_workflows.returns.models import ExchangeLine

    if not specs:
        return None
    out = []
    for spec in specs:
        sku, qty = _split(spec, "--exchange-line", 2)
        out.append(ExchangeLine(sku=sku, qty=_qty(spec, qty, "--exchange-line")))
    return out


def parse_received(specs: list[str]) -> list[ReceivedUnits]:
    from dom_workflows.returns.models import GRADES, ReceivedUnits

    out = []
    for spec in specs:
        lid, qty, grade = _split(spec, "--line", 3)
        if grade not in GRADES:
            raise usage(f"--line {spec!r}: grade must be one of {', '.join(GRADES)}")
        out.append(ReceivedUnits(line_id=lid, qty=_qty(spec, qty, "--line"), grade=grade))
    return out


def render(st: ReturnState) -> None:
    console.print(
        f"[bold]{st.rma_id}[/bold]  {st.status.value}  · order {st.order_id}"
        + (" · exchange" if st.exchange else "")
        + (f" · return to {st.return_node}" if st.return_node else "")
        + (f" by {st.deadline:%Y-%m-%d %H:%M} UTC" if st.deadline else "")
    )
    table = Table("line", "sku", "qty", "received", "resell", "refurbish", "scrap", "restocked")
    for ln in st.lines:
        table.add_row(
            ln.line_id,
            ln.sku,
            *(
                str(x)
                for x in (ln.qty, ln.received, ln.resell, ln.refurbish, ln.scrap, ln.restocked)
            ),
        )
    console.print(table)
    if st.label:
        console.print(f"label: {st.label.carrier} {st.label.tracking} {st.label.label_url}")
    for r in st.refunds:
        if r.status == "to_refund_at_channel":
            console.print(f"[yellow]to refund at the channel:[/yellow] {r.amount}")
        else:
            console.print(f"refund {r.refund_id}: {r.amount} on capture {r.capture_id}")
    if st.manual_refund:
        console.print(f"[yellow]to refund manually:[/yellow] {st.manual_refund}")
    if st.exchange_order_id:
        console.print(f"replacement order: {st.exchange_order_id}")
    for e in st.escalations:
        console.print(f"[yellow]escalation:[/yellow] {e}")
    if st.stop_reason:
        console.print(f"ended: {st.stop_reason}")


@return_app.command("create")
def create(
    order_id: str,
    line: list[str] = typer.Option(..., "--line", help="LINE_ID:QTY to send back; repeat."),
    reason: str = typer.Option("", help="Why (kept on each line)."),
    exchange: bool = typer.Option(False, "--exchange", help="Replace instead of refunding."),
    exchange_line: list[str] = typer.Option(
        [], "--exchange-line", help="SKU:QTY to send instead (default: the same SKUs)."
    ),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Open an RMA; refused (exit 1) when the units were not delivered, are already on another
    RMA, or the return window has closed."""
    from pydantic import ValidationError

    from dom_workflows.returns.models import ReturnRequest
    from workers.client import DomClient, ReturnRefused

    try:
        req = ReturnRequest(
            lines=parse_lines(line, reason),
            exchange=exchange or bool(exchange_line),
            exchange_lines=parse_exchange(exchange_line),
            requested_by="cli",
        )
    except ValidationError as e:
        raise usage(f"invalid return: {e.errors()[0]['msg']}") from None

    async def go() -> None:
        dom = await DomClient.connect(settings())
        created = await dom.create_return(order_id, req)
        print_json(
            {
                "rma_id": created.rma_id,
                "workflow_id": created.workflow_id,
                "status": created.state.status.value,
                "return_node": created.state.return_node,
                "deadline": created.state.deadline,
            }
        )

    try:
        run(go())
    except ReturnRefused as e:
        raise fail(f"return refused ({e.kind}): {e}") from None


@return_app.command("show")
def show(
    rma_id: str,
    as_json: bool = typer.Option(False, "--json", help="Print the query result as JSON."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """An RMA's state: lines and grades, label, refunds or replacement, timeline."""
    from workers.client import DomClient

    async def go() -> ReturnState:
        dom = await DomClient.connect(settings())
        return await dom.return_status(rma_id)

    state = run(go())  # an unknown RMA exits 3 (workers/cli/errors.py)
    if as_json:
        print_json(state)
    else:
        render(state)


@return_app.command("receive")
def receive(
    rma_id: str,
    line: list[str] = typer.Option(
        ..., "--line", help="LINE_ID:QTY:GRADE (resell|refurbish|scrap); repeat."
    ),
    event_id: str | None = typer.Option(None, help="Idempotency key; a repeat is ignored."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Report that the return node received (and graded) the parcel, as its webhook would."""
    from dom_workflows.returns.models import ReturnReceipt
    from workers.client import DomClient, ReturnClosed

    ev = ReturnReceipt(
        event_id=event_id or f"cli-{uuid.uuid4()}", rma_id=rma_id, lines=parse_received(line)
    )

    async def go() -> None:
        dom = await DomClient.connect(settings())
        await dom.report_return_received(rma_id, ev)
        print_json({"rma_id": rma_id, "event": ev.model_dump(mode="json")})

    try:
        run(go())
    except ReturnClosed as e:
        raise fail(str(e)) from None


def register(app: typer.Typer) -> None:
    app.add_typer(return_app, name="return")
