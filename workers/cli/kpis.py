"""`dom kpis`: the fulfilment KPIs from the decision and outcome records, as a table or JSON.

Definitions: docs/kpis.md. The same numbers as `GET /v1/kpis` (activities/insight/kpis.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workers.cli.common import ExitCode, console, database_url, fail, print_json, run, usage

if TYPE_CHECKING:
    from activities.insight.kpis import KpiReport, KpiRow

GROUPS = ("node", "channel", "day", "sku")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# (column, value) in the order people read them.
def _cells(r: KpiRow) -> list[tuple[str, str]]:
    return [
        ("orders", str(r.orders)),
        ("split rate", _pct(r.split_rate)),
        ("shipments/order", _num(r.shipments_per_order)),
        ("cost/order", f"{r.cost_per_order.amount:.2f}" if r.cost_per_order else "-"),
        ("on-time ship", _pct(r.on_time_ship)),
        ("on-time delivery", _pct(r.on_time_delivery)),
        ("rejection rate", _pct(r.rejection_rate)),
        ("SLA breaches", str(r.sla_breaches)),
        ("backorder rate", _pct(r.backorder_rate)),
        ("cancellation rate", _pct(r.cancellation_rate)),
        ("return rate", _pct(r.return_rate)),
        ("gross margin", f"{r.gross_margin.amount:.2f} ({_pct(r.gross_margin_rate)})"),
        ("routing savings", f"{r.routing_savings.amount:.2f} ({_pct(r.routing_savings_rate)})"),
    ]


def render(report: KpiReport) -> Table:
    window = f"{report.since:%Y-%m-%d %H:%M} .. {report.until:%Y-%m-%d %H:%M} UTC"
    if report.by is None:
        table = Table(title=f"Fulfilment KPIs, orders received {window}")
        table.add_column("KPI")
        for row in report.total:
            table.add_column(f"value ({row.currency})", justify="right")
        names = [name for name, _ in _cells(report.total[0])] if report.total else []
        for i, name in enumerate(names):
            table.add_row(name, *[_cells(row)[i][1] for row in report.total])
        return table
    table = Table(title=f"Fulfilment KPIs by {report.by}, orders received {window}")
    table.add_column(report.by)
    several = len({r.currency for r in report.rows}) > 1
    if several:
        table.add_column("cur")
    header = (
        _cells(report.rows[0]) if report.rows else _cells(report.total[0]) if report.total else []
    )
    for name, _ in header:
        table.add_column(name, justify="right")
    for row in report.rows:
        table.add_row(row.group, *([row.currency] if several else []), *[v for _, v in _cells(row)])
    for row in report.total:
        table.add_row(
            "[bold]all[/bold]", *([row.currency] if several else []), *[v for _, v in _cells(row)]
        )
    return table


def kpis(
    since: Annotated[
        str | None,
        typer.Option(
            help="Orders received since: a duration (24h, 7d, 2w) or a date; default 30d."
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Group by node, channel, day or sku.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fulfilment KPIs: orders, splits, cost per order, on-time ship and delivery, rejections,
    SLA breaches, backorders, cancellations, returns, margin, routing savings."""
    import sqlalchemy as sa

    from activities.insight.kpis import report
    from activities.inventory.db import create_engine, migrate
    from dom_workflows.insight.window import BadSince, parse_since

    if by is not None and by not in GROUPS:
        raise usage(f"--by {by!r}: choose one of {', '.join(GROUPS)}")
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except BadSince as e:
        raise usage(str(e)) from None
    url = database_url()

    async def go() -> KpiReport:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await report(engine, start, now, by)
        finally:
            await engine.dispose()

    try:
        result = run(go())
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(
            f"cannot read the DOM database: {str(e).splitlines()[0]}", ExitCode.UNAVAILABLE
        ) from None
    if as_json:
        print_json(result)
        return
    console.print(render(result))


def register(app: typer.Typer) -> None:
    app.command("kpis")(kpis)
