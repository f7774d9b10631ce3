"""`dom inventory ...`: ATP per node from the ledger, stock receipts, the ledger's invariants
(`verify`) and the escalations filed against it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from workers.cli.common import (
    Address,
    ExitCode,
    Namespace,
    console,
    database_url,
    fail,
    first_line,
    not_found,
    print_json,
    run,
    settings,
)
from workers.cli.inbound import inbound_app

if TYPE_CHECKING:
    from temporalio.client import Client

    from activities.inventory.verify import Violation
    from dom_workflows.inventory.models import AtpView

# `dom inventory verify` exits 1 when it finds violations and 4 when it cannot check at all.
EXIT_VIOLATIONS = ExitCode.FAILED
EXIT_CANNOT_CHECK = ExitCode.UNAVAILABLE
TEMPORAL_CONNECT_TIMEOUT_S = 5.0

inventory_app = typer.Typer(help="Inventory positions and receipts.", no_args_is_help=True)
inventory_app.add_typer(inbound_app, name="inbound")


@inventory_app.command("show")
def show(
    sku: str,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """On hand, reserved, held (in shopping carts), safety stock and ATP of a SKU at every
    node."""
    from activities.inventory import inbound
    from activities.inventory.db import create_engine

    url = database_url()

    async def go() -> AtpView:
        engine = create_engine(url)
        try:
            return await inbound.atp_view(engine, sku)  # with the units on their way
        finally:
            await engine.dispose()

    view = run(go())
    if not view.nodes:
        raise not_found(f"no inventory positions for SKU {sku!r}")
    if as_json:
        print_json(view)
        return
    table = Table("node", "on hand", "reserved", "held", "safety", "ATP", title=f"{sku}")
    for r in view.nodes:
        table.add_row(
            r.node, str(r.on_hand), str(r.reserved), str(r.held), str(r.safety_stock), str(r.atp)
        )
    table.add_row(
        "total",
        str(view.total_on_hand),
        str(view.total_reserved),
        str(view.total_held),
        "",
        str(view.total_atp),
    )
    console.print(table)
    if view.inbound:
        coming = Table("inbound", "node", "expected", "qty", "not pre-ordered", title="On its way")
        for i in view.inbound:
            coming.add_row(
                i.inbound,
                i.node,
                f"{i.expected_at:%Y-%m-%d %H:%M %Z}",
                str(i.qty),
                str(i.available),
            )
        console.print(coming)


@inventory_app.command("receive")
def receive(
    node: str,
    sku: str,
    qty: int = typer.Argument(..., min=1),
    reference: str | None = typer.Option(None, help="Receipt id (ASN); a repeat is applied once."),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Add received stock at a node."""
    from activities.inventory import ledger
    from activities.inventory.db import create_engine, migrate
    from dom_workflows.backorder.models import StockArrival
    from dom_workflows.inventory.models import InventoryReceipt
    from workers.client import DomClient

    url = database_url(create=True)
    receipt = InventoryReceipt(
        node=node, sku=sku, qty=qty, reference=reference or f"cli-{uuid.uuid4()}"
    )

    async def go() -> tuple[bool, bool]:
        s = settings()
        engine = create_engine(url)
        try:
            await migrate(engine)
            applied = await ledger.receive(engine, receipt)
        finally:
            await engine.dispose()
        if not applied:
            return False, False
        # New stock wakes the backorders waiting for this SKU, first come first served.
        dom = await DomClient.connect(s)
        woke = await dom.stock_arrived(
            sku, StockArrival(node=node, qty=qty, reference=receipt.reference)
        )
        return applied, woke

    try:
        applied, woke = run(go())
    except ValueError as e:
        raise fail(str(e)) from None
    print_json({"applied": applied, "backorders_woken": woke, **receipt.model_dump()})


@dataclass
class VerifyReport:
    violations: list[Violation] = field(default_factory=list)
    temporal: str = "not checked"  # what happened to the Temporal check, in words
    escalations: int = 0


class CannotCheck(Exception):
    """The database or Temporal could not be read; the message says which and why."""


_first_line = first_line


async def _temporal_client(required: bool) -> Client | None:
    from workers.client import connect

    s = settings()
    try:
        return await asyncio.wait_for(connect(s), TEMPORAL_CONNECT_TIMEOUT_S)
    except (TimeoutError, RuntimeError, OSError) as e:
        if required:
            raise CannotCheck(
                f"cannot reach Temporal at {s.temporal_address}: {_first_line(e)}"
            ) from None
        return None


async def _verify(temporal: bool | None, limit: int) -> VerifyReport:
    import sqlalchemy as sa

    from activities.inventory.db import create_engine
    from activities.inventory.outbound import count_escalations
    from activities.inventory.verify import verify, verify_workflows

    s = settings()
    report = VerifyReport()
    try:
        engine = create_engine(s.database_url)
    except (sa.exc.SQLAlchemyError, ValueError, ImportError) as e:
        raise CannotCheck(f"bad database URL {s.database_url!r}: {_first_line(e)}") from None
    try:
        try:
            report.violations = await verify(engine)
            report.escalations = await count_escalations(engine)
        except (sa.exc.SQLAlchemyError, OSError) as e:
            hint = ""
            if "no such table" in str(e) or "does not exist" in str(e):
                hint = " (is the schema migrated? the worker and `dom dev` migrate it on start)"
            raise CannotCheck(
                f"cannot read the DOM database at {engine.url.render_as_string()}: "
                f"{_first_line(e)}{hint}"
            ) from None
        if temporal is False:
            report.temporal = "skipped (--no-temporal)"
            return report
        client = await _temporal_client(required=temporal is True)
        if client is None:
            report.temporal = f"skipped: Temporal at {s.temporal_address} is not reachable"
            return report
        try:
            found, truncated = await verify_workflows(engine, client, limit=limit)
        except (sa.exc.SQLAlchemyError, OSError, RuntimeError) as e:
            raise CannotCheck(f"the Temporal check failed: {_first_line(e)}") from None
        report.violations += found
        report.temporal = f"checked against {s.temporal_address}" + (
            f" (first {limit} orders holding reserved units only; raise --limit)"
            if truncated
            else ""
        )
        return report
    finally:
        await engine.dispose()


@inventory_app.command("verify")
def verify_cmd(
    temporal: bool | None = typer.Option(
        None,
        "--temporal/--no-temporal",
        help="Also check that every order holding reserved units has a running workflow. "
        "Default: checked when Temporal is reachable, skipped (and said so) when not.",
    ),
    limit: int = typer.Option(
        500, min=1, help="At most this many orders are looked up in Temporal."
    ),
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """List every violation of the ledger's invariants; exit 1 if there are any, 0 if none,
    4 if the database (or, with --temporal, Temporal) cannot be read."""
    database_url()  # a missing database is said as such, not created empty
    try:
        report = run(_verify(temporal, limit))
    except CannotCheck as e:
        raise fail(str(e), EXIT_CANNOT_CHECK) from None
    console.print(f"Temporal check: {report.temporal}")
    if report.escalations:
        console.print(
            f"{report.escalations} escalation(s) on file: see `dom inventory escalations`"
        )
    if not report.violations:
        console.print("[green]The ledger is consistent: no violations.[/green]")
        return
    table = Table("kind", "order", "node", "SKU", "what is wrong", title="Ledger violations")
    for v in report.violations:
        table.add_row(v.kind, v.order_id or "", v.node or "", v.sku or "", v.detail)
    console.print(table)
    console.print(f"[red]{len(report.violations)} violation(s)[/red]")
    raise typer.Exit(EXIT_VIOLATIONS)


@inventory_app.command("escalations")
def escalations_cmd(
    limit: int = typer.Option(50, min=1, help="Show the newest this many."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Escalations filed by the ledger (e.g. a node shipped units of a cancelled request)."""
    import sqlalchemy as sa

    from activities.inventory.db import create_engine
    from activities.inventory.outbound import list_escalations

    url = database_url()

    async def go() -> list[dict[str, object]]:
        engine = create_engine(url)
        try:
            return await list_escalations(engine, limit=limit)
        finally:
            await engine.dispose()

    try:
        rows = run(go())
    except (sa.exc.SQLAlchemyError, OSError, ValueError, ImportError) as e:
        raise fail(f"cannot read the DOM database: {_first_line(e)}", EXIT_CANNOT_CHECK) from None
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No escalations.")
        return
    table = Table("at", "kind", "order", "shipment", "message", title="Escalations (newest first)")
    for r in rows:
        table.add_row(
            str(r["at"])[:19],
            str(r["kind"]),
            str(r["order_id"] or ""),
            str(r["shipment_id"] or ""),
            str(r["message"]),
        )
    console.print(table)
