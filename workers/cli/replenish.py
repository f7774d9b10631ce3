"""`dom inventory replenish`: per SKU x node velocity, days of cover and a suggested reorder
quantity from the movement ledger (activities/inventory/replenishment.py; same as
GET /v1/replenishment)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workers.cli.common import ExitCode, console, database_url, fail, print_json, run, usage

if TYPE_CHECKING:
    from activities.inventory.replenishment import ReplenishmentReport


def render(report: ReplenishmentReport, show_all: bool) -> Table:
    p = report.params
    table = Table(
        title=(
            f"Replenishment: {p.window_days} days of shipments, lead {p.lead_days:g} d, "
            f"service level {p.service_level:.1%} (z {report.z:.2f}), cover {p.cover_days:g} d"
        )
    )
    for column in ("node", "sku"):
        table.add_column(column)
    for column in ("available", "on order", "units/day", "sigma/day", "days of cover",
                   "safety", "reorder point", "order up to", "suggest"):  # fmt: skip
        table.add_column(column, justify="right")
    for s in report.suggestions:
        if not show_all and not s.reorder:
            continue
        cover = "-" if s.days_of_cover is None else f"{s.days_of_cover:.1f}"
        table.add_row(
            s.node, s.sku, str(s.available), str(s.on_order), f"{s.velocity:.2f}",
            f"{s.sigma_daily:.2f}", cover, f"{s.safety_stock:.1f}", f"{s.reorder_point:.1f}",
            f"{s.order_up_to:.1f}", f"[bold]{s.suggested_qty}[/bold]" if s.reorder else "0",
        )  # fmt: skip
    return table


def replenish(
    sku: Annotated[str | None, typer.Option(help="Only this SKU.")] = None,
    node: Annotated[str | None, typer.Option(help="Only this node.")] = None,
    lead_days: Annotated[float, typer.Option(help="Supplier lead time in days.")] = 7,
    service_level: Annotated[float, typer.Option(help="Chance of no stock-out, e.g. 0.95.")] = 0.95,
    window_days: Annotated[int, typer.Option(help="Days of shipments to read demand from.")] = 28,
    cover_days: Annotated[float, typer.Option(help="Days of demand to have after the lead.")] = 14,
    show_all: Annotated[bool, typer.Option("--all", help="Also positions not to reorder.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every position).")] = False,
) -> None:
    """Sales velocity, days of cover and suggested reorder quantities per SKU x node."""
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from pydantic import ValidationError

    from activities.inventory.db import create_engine, migrate
    from activities.inventory.replenishment import ReplenishmentParams, replenishment

    try:
        params = ReplenishmentParams(
            sku=sku, node=node, lead_days=lead_days, service_level=service_level,
            window_days=window_days, cover_days=cover_days,
        )  # fmt: skip
    except ValidationError as e:
        problems = "; ".join(f"--{'-'.join(map(str, x['loc'])).replace('_', '-')}: {x['msg']}"
                             for x in e.errors())  # fmt: skip
        raise usage(problems) from None
    url = database_url()

    async def go() -> ReplenishmentReport:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await replenishment(engine, datetime.now(UTC), params)
        finally:
            await engine.dispose()

    try:
        report = run(go())
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(
            f"cannot read the DOM database: {str(e).splitlines()[0]}", ExitCode.UNAVAILABLE
        ) from None
    if as_json:
        print_json(report)
        return
    if not report.suggestions:
        raise fail(
            f"no inventory positions{' for ' + sku if sku else ''}{' at ' + node if node else ''}",
            ExitCode.NOT_FOUND,
        )
    console.print(render(report, show_all or bool(sku) or bool(node)))
    to_order = sum(1 for s in report.suggestions if s.reorder)
    console.print(
        f"{to_order} of {len(report.suggestions)} position(s) at or below their reorder point"
    )


def register(inventory_app: typer.Typer) -> None:
    inventory_app.command("replenish")(replenish)
