"""`dom kpis` and `dom report --html` against a real SQLite DOM database: the known history's
figures in the table and in JSON, a one-line error (exit 2) for bad flags, no traceback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from activities.inventory.db import create_engine, migrate
from tests.support.insight import known_history
from workers.cli.main import app


@pytest.fixture
def dom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}"
    monkeypatch.setenv("DOM_HOME", str(tmp_path))
    monkeypatch.setenv("DOM_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables at full width

    async def seed() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
            await known_history(engine)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


def test_dom_kpis_prints_every_kpi(dom: Any) -> None:
    r = dom("kpis", "--since", "2026-03-02")
    assert r.exit_code == 0, r.output
    for needle in ("split rate", "25.0%", "cost/order", "9.75", "SLA breaches",
                   "routing savings", "7.00 (12.5%)", "341.00 (89.7%)"):  # fmt: skip
        assert needle in r.output, (needle, r.output)


def test_dom_kpis_by_node_as_json(dom: Any) -> None:
    r = dom("kpis", "--since", "2026-03-02", "--by", "node", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    rows = {row["group"]: row for row in doc["rows"]}
    assert rows["wh-dallas"]["orders"] == 3 and rows["store-x"]["rejection_rate"] == 1.0
    table = dom("kpis", "--since", "2026-03-02", "--by", "node")
    assert "wh-columbus" in table.output and "all" in table.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("kpis", "--by", "colour"), "choose one of node, channel, day, sku"),
        (("kpis", "--since", "last week"), "neither a duration"),
        (("report", "--html", "/nonexistent/dir/r.html"), "does not exist"),
    ],
)
def test_bad_flags_are_one_line_errors(dom: Any, args: tuple[str, ...], needle: str) -> None:
    r = dom(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output, r.output


def test_dom_report_writes_the_page(dom: Any, tmp_path: Path) -> None:
    page = tmp_path / "kpis.html"
    r = dom("report", "--html", str(page), "--since", "2026-03-02")
    assert r.exit_code == 0, r.output
    text = page.read_text()
    assert "wh-columbus" in text and "Orders per day" in text
