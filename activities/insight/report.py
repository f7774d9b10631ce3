"""`dom report --html`: one static page of the KPIs, over time (by day) and by node and channel.

Charts are plotly figures with plotly.js embedded once in the page (no CDN, works offline).
Ratios are drawn as percentages; money in the window's currency (the first, if several).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import plotly.graph_objects as go
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.insight import kpis
from activities.insight.kpis import KpiReport, KpiRow

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


class Reports:
    """The three groupings a page shows, plus the totals."""

    def __init__(self, by_day: KpiReport, by_node: KpiReport, by_channel: KpiReport) -> None:
        self.by_day, self.by_node, self.by_channel = by_day, by_node, by_channel


async def load(engine: AsyncEngine, since: datetime, until: datetime) -> Reports:
    return Reports(
        await kpis.report(engine, since, until, "day"),
        await kpis.report(engine, since, until, "node"),
        await kpis.report(engine, since, until, "channel"),
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def _series(rows: Sequence[KpiRow], get: Callable[[KpiRow], float | None]) -> list[float | None]:
    return [get(r) for r in rows]


def _figure(title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        yaxis_title=y_title,
        template="plotly_white",
    )
    return fig


def _lines(
    title: str,
    y_title: str,
    rows: Sequence[KpiRow],
    series: dict[str, Callable[[KpiRow], float | None]],
) -> go.Figure:
    fig = _figure(title, y_title)
    x = [r.group for r in rows]
    for i, (name, get) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(x=x, y=_series(rows, get), name=name, mode="lines+markers",
                       line={"color": COLOURS[i % len(COLOURS)]})
        )  # fmt: skip
    return fig


def _bars(
    title: str,
    y_title: str,
    rows: Sequence[KpiRow],
    series: dict[str, Callable[[KpiRow], float | None]],
) -> go.Figure:
    fig = _figure(title, y_title)
    x = [r.group for r in rows]
    for i, (name, get) in enumerate(series.items()):
        fig.add_trace(
            go.Bar(x=x, y=_series(rows, get), name=name, marker_color=COLOURS[i % len(COLOURS)])
        )
    fig.update_layout(barmode="group")
    return fig


DAY_MS = 86_400_000


def _daily(fig: go.Figure, days: Sequence[KpiRow]) -> go.Figure:
    """Whole days on the axis: left alone, plotly zooms a single day (a fresh install's first
    demo) down to sub-millisecond ticks and one bar as wide as the chart."""
    fig.update_xaxes(type="date", dtick=DAY_MS, tickformat="%b %d")
    if len(days) < 7 and days:
        first = datetime.fromisoformat(str(days[0].group)[:10])
        fig.update_xaxes(
            range=[first - timedelta(days=3), first + timedelta(days=max(3, len(days) + 2))]
        )
    for trace in fig.data:
        if isinstance(trace, go.Bar):
            trace.width = DAY_MS * 0.8
    return fig


def figures(r: Reports) -> list[go.Figure]:
    day, node, channel = r.by_day.rows, r.by_node.rows, r.by_channel.rows
    money = lambda m: float(m.amount) if m is not None else None  # noqa: E731
    return [
        _daily(_bars("Orders per day", "orders", day, {"orders": lambda x: x.orders}), day),
        _daily(_lines("Cost and routing savings per order, by day", "per order", day, {
            "cost per order": lambda x: money(x.cost_per_order),
            "routing savings per order": lambda x: (
                float(x.routing_savings.amount) / x.orders if x.orders else None
            ),
        }), day),
        _daily(_lines("On time, by day", "%", day, {
            "on-time ship %": lambda x: _pct(x.on_time_ship),
            "on-time delivery %": lambda x: _pct(x.on_time_delivery),
        }), day),
        _daily(_lines("Splits, rejections, backorders, cancellations, returns, by day", "%", day, {
            "split rate %": lambda x: _pct(x.split_rate),
            "rejection rate %": lambda x: _pct(x.rejection_rate),
            "backorder rate %": lambda x: _pct(x.backorder_rate),
            "cancellation rate %": lambda x: _pct(x.cancellation_rate),
            "return rate %": lambda x: _pct(x.return_rate),
        }), day),
        _bars("By node: on time and rejections", "%", node, {
            "on-time ship %": lambda x: _pct(x.on_time_ship),
            "on-time delivery %": lambda x: _pct(x.on_time_delivery),
            "rejection rate %": lambda x: _pct(x.rejection_rate),
        }),
        _bars("By node: SLA breaches and cost per order", "", node, {
            "SLA breaches": lambda x: x.sla_breaches,
            "cost per order": lambda x: money(x.cost_per_order),
        }),
        _bars("By channel (orders): margin after fulfilment, on time, cancels, returns", "%", [
            r.model_copy(update={"group": f"{r.group} ({r.orders})"}) for r in channel
        ], {
            "gross margin %": lambda x: _pct(x.gross_margin_rate),
            "on-time ship %": lambda x: _pct(x.on_time_ship),
            "cancellation rate %": lambda x: _pct(x.cancellation_rate),
            "return rate %": lambda x: _pct(x.return_rate),
        }),
    ]  # fmt: skip


TILES: tuple[tuple[str, Callable[[KpiRow], str]], ...] = (
    ("orders", lambda r: f"{r.orders}"),
    ("split rate", lambda r: _fmt_pct(r.split_rate)),
    ("shipments / order", lambda r: f"{r.shipments_per_order or 0:.2f}"),
    ("cost / order", lambda r: str(r.cost_per_order or "-")),
    ("on-time ship", lambda r: _fmt_pct(r.on_time_ship)),
    ("on-time delivery", lambda r: _fmt_pct(r.on_time_delivery)),
    ("rejection rate", lambda r: _fmt_pct(r.rejection_rate)),
    ("SLA breaches", lambda r: f"{r.sla_breaches}"),
    ("backorder rate", lambda r: _fmt_pct(r.backorder_rate)),
    ("cancellation rate", lambda r: _fmt_pct(r.cancellation_rate)),
    ("return rate", lambda r: _fmt_pct(r.return_rate)),
    ("gross margin after fulfilment", lambda r: f"{r.gross_margin} ({_fmt_pct(r.gross_margin_rate)})"),
    ("routing savings vs distance", lambda r: f"{r.routing_savings} ({_fmt_pct(r.routing_savings_rate)})"),
)  # fmt: skip


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _tiles(total: Sequence[KpiRow]) -> str:
    if not total:
        return "<p>No orders in this window.</p>"
    row = total[0]
    cells = "".join(
        f'<div class="tile"><div class="k">{html.escape(name)}</div>'
        f'<div class="v">{html.escape(get(row))}</div></div>'
        for name, get in TILES
    )
    return f'<div class="tiles">{cells}</div>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: 4px; }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin: 18px 0; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: 10px; }
.k { font-size: 12px; color: #666; } .v { font-size: 20px; font-weight: 600; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
"""


def render(r: Reports, title: str = "dom-workflows: fulfilment KPIs") -> str:
    """The whole page as one string; plotly.js is inlined with the first chart."""
    charts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, fig in enumerate(figures(r))
    ]
    window = f"{r.by_day.since:%Y-%m-%d %H:%M} to {r.by_day.until:%Y-%m-%d %H:%M} UTC"
    body = "".join(f"<div>{c}</div>" for c in charts)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='sub'>Orders received {window}; "
        "definitions in docs/kpis.md</p>"
        f"{_tiles(r.by_day.total)}<div class='grid'>{body}</div>"
        # The numbers behind the charts, for anyone who wants them out of the page.
        f"<script type='application/json' id='kpi-data'>{_data(r)}</script></body></html>"
    )


def _data(r: Reports) -> str:
    doc = {
        "by_day": r.by_day.model_dump(mode="json"),
        "by_node": r.by_node.model_dump(mode="json"),
        "by_channel": r.by_channel.model_dump(mode="json"),
    }
    return json.dumps(doc).replace("</", "<\\/")


async def build(engine: AsyncEngine, since: datetime, until: datetime) -> str:
    return render(await load(engine, since, until))
