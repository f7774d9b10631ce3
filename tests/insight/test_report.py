"""`dom report --html`: one offline page (plotly.js inside, no script from the network) with the
KPI series it was drawn from, and headless Chromium renders every chart without a JS error."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.insight import report
from activities.insight.sample import seed_sample_history
from dom_workflows.network import Network

END = datetime(2026, 3, 29, tzinfo=UTC)
DAYS = 14
CHARTS = 7


async def sample_page(engine: AsyncEngine, network: Network) -> tuple[str, report.Reports]:
    await seed_sample_history(engine, network, END, days=DAYS, per_day=12)
    reports = await report.load(engine, END - timedelta(days=DAYS), END)
    return report.render(reports), reports


def embedded(page: str) -> dict[str, object]:
    found = re.search(r"<script type='application/json' id='kpi-data'>(.*?)</script>", page, re.S)
    assert found, "the page carries its data"
    data: dict[str, object] = json.loads(found.group(1))
    return data


async def test_the_page_is_offline_and_carries_its_series(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    page, reports = await sample_page(sqlite_engine, network)
    sources = re.findall(r"<script[^>]*\bsrc\s*=\s*['\"]?([^'\" >]+)", page, re.I)
    assert not [s for s in sources if re.match(r"(https?:)?//", s)], sources
    assert page.count("Plotly.newPlot(") == CHARTS, "one plot per chart"
    assert "window.Plotly = Plotly" in page, "plotly.js itself is inlined"
    data = embedded(page)
    assert data["by_day"] == reports.by_day.model_dump(mode="json")
    assert data["by_node"] == reports.by_node.model_dump(mode="json")
    days = [r.group for r in reports.by_day.rows]
    assert len(days) == DAYS
    assert all(f'"{d}"' in page for d in days), "the charts' x values"
    orders = ",".join(str(r.orders) for r in reports.by_day.rows)
    assert f'"y":[{orders}]' in page, "the orders-per-day series"
    nodes = {r.group for r in reports.by_node.rows}
    assert nodes == {n.id for n in network.nodes}
    assert all(f'"{n}"' in page for n in nodes), "every node on the node charts"
    assert reports.by_day.total[0].orders > 100


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium")
async def test_chromium_renders_every_chart_without_errors(
    sqlite_engine: AsyncEngine, network: Network, tmp_path: Path
) -> None:
    page, _ = await sample_page(sqlite_engine, network)
    path = tmp_path / "kpis.html"
    path.write_text(page)
    done = await asyncio.to_thread(
        subprocess.run,
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=10000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # Each chart drew its svg (plotly adds two per chart), with its axis labels in it.
    assert dom.count('class="main-svg"') >= CHARTS * 2, "every chart drew its svg"
    assert 'class="xtick"' in dom and ">wh-columbus</text>" in dom, "axis labels drawn"
    assert ">Orders per day</text>" in dom, "chart titles drawn"
    errors = [ln for ln in done.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not errors, errors


async def test_a_single_day_is_drawn_on_a_day_axis(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    """A fresh install's first demo has one day of orders: the daily charts keep whole-day ticks
    and a bar one day wide, not plotly's sub-millisecond zoom."""
    await seed_sample_history(sqlite_engine, network, END, days=1, per_day=12)
    reports = await report.load(sqlite_engine, END - timedelta(days=1), END)
    assert len(reports.by_day.rows) == 1
    daily = report.figures(reports)[:4]
    for fig in daily:
        axis = fig.layout.xaxis
        assert (axis.type, axis.tickformat, axis.dtick) == ("date", "%b %d", report.DAY_MS)
        start, end = (datetime.fromisoformat(str(v)) for v in axis.range)
        assert end - start >= timedelta(days=6)
    assert daily[0].data[0].width == report.DAY_MS * 0.8
