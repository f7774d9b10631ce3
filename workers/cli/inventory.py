"""`dom inventory ...`: ATP per node from the ledger, and stock receipts."""

from __future__ import annotations

import uuid

import typer
from rich.table import Table

from activities.inventory import ledger
from activities.inventory.db import create_engine, migrate
from dom_workflows.backorder.models import StockArrival
from dom_workflows.inventory.models import AtpView, InventoryReceipt
from workers.cli.common import console, fail, print_json, run, settings
from workers.client import DomClient

inventory_app = typer.Typer(help="Inventory positions and receipts.", no_args_is_help=True)


@inventory_app.command("show")
def show(
    sku: str,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """On hand, reserved, safety stock and ATP of a SKU at every node."""

    async def go() -> AtpView:
        engine = create_engine(settings().database_url)
        try:
            return await ledger.atp_view(engine, sku)
        finally:
            await engine.dispose()

    view = run(go())
    if not view.nodes:
        raise fail(f"no inventory positions for SKU {sku!r}")
    if as_json:
        print_json(view)
        return
    table = Table("node", "on hand", "reserved", "safety", "ATP", title=f"{sku}")
    for r in view.nodes:
        table.add_row(r.node, str(r.on_hand), str(r.reserved), str(r.safety_stock), str(r.atp))
    table.add_row(
        "total", str(view.total_on_hand), str(view.total_reserved), "", str(view.total_atp)
    )
    console.print(table)


@inventory_app.command("receive")
def receive(
    node: str,
    sku: str,
    qty: int = typer.Argument(..., min=1),
    reference: str | None = typer.Option(None, help="Receipt id (ASN); a repeat is applied once."),
) -> None:
    """Add received stock at a node."""
    receipt = InventoryReceipt(
        node=node, sku=sku, qty=qty, reference=reference or f"cli-{uuid.uuid4()}"
    )

    async def go() -> tuple[bool, bool]:
        s = settings()
        engine = create_engine(s.database_url)
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
