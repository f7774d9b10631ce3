"""`dom node list|show|set` and `dom holiday add|remove|list` against a real SQLite DOM database:
changes land in node_settings with who made them, bad input is a one-line error (exit 1 refused,
2 bad input, 3 unknown node or holiday; no traceback) that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from workers.cli.main import app


@pytest.fixture
def dom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DOM_HOME", str(tmp_path))
    monkeypatch.setenv("DOM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}")
    monkeypatch.setenv("COLUMNS", "200")  # rich tables at full width
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


def refused(r: Result, needle: str, code: int = 1) -> None:
    assert r.exit_code == code, r.output
    assert needle in r.output and "Traceback" not in r.output, r.output


def node(dom: Any, node_id: str) -> dict[str, Any]:
    r = dom("node", "show", node_id, "--json")
    assert r.exit_code == 0, r.output
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def test_node_set_changes_settings_live_and_records_who(dom: Any) -> None:
    listed = dom("node", "list")
    assert listed.exit_code == 0, listed.output
    assert "store-nyc" in listed.output and "0/120 orders" in listed.output

    r = dom("node", "set", "store-nyc", "--capacity", "80", "--unit", "units", "--cutoff", "13:30",
            "--handling-days", "1", "--working-days", "tue,mon", "--by", "alice")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "capacity 80 units" in r.output and "changed by alice" in r.output
    s = node(dom, "store-nyc")["settings"]
    assert (s["capacity_limit"], s["capacity_unit"], s["cutoff"]) == (80, "units", "13:30")
    assert s["handling_days"] == 1 and s["working_days"] == ["mon", "tue"]
    assert s["updated_by"] == "alice"

    # --unit alone keeps the limit; --unlimited removes it.
    assert dom("node", "set", "store-nyc", "--unit", "orders").exit_code == 0
    s = node(dom, "store-nyc")["settings"]
    assert (s["capacity_limit"], s["capacity_unit"]) == (80, "orders")
    assert s["updated_by"].startswith("cli")
    assert dom("node", "set", "store-nyc", "--unlimited").exit_code == 0
    assert node(dom, "store-nyc")["settings"]["capacity_limit"] is None
    shown = dom("node", "show", "store-nyc")
    assert shown.exit_code == 0 and "unlimited" in shown.output


def test_bad_node_settings_are_refused_and_change_nothing(dom: Any) -> None:
    before = node(dom, "wh-reno")
    refused(dom("node", "set", "wh-reno", "--timezone", "Mars/Olympus"), "unknown timezone")
    refused(dom("node", "set", "wh-reno", "--cutoff", "25:00"), "cutoff")
    refused(dom("node", "set", "wh-reno", "--working-days", "mon,funday"), "working_days")
    refused(dom("node", "set", "wh-reno"), "nothing to change", 2)
    refused(dom("node", "set", "wh-reno", "--unlimited", "--capacity", "3"), "--unlimited", 2)
    refused(dom("node", "set", "nowhere", "--cutoff", "10:00"), "unknown node", 3)
    refused(dom("node", "show", "nowhere"), "unknown node", 3)
    assert dom("node", "set", "wh-reno", "--capacity", "-1").exit_code == 2  # typer: min=0
    assert node(dom, "wh-reno") == before


def test_holidays_are_added_listed_and_removed(dom: Any) -> None:
    added = dom("holiday", "add", "2026-12-31", "--node", "store-nyc", "--name", "NYE")
    assert added.exit_code == 0 and "added for store-nyc" in added.output
    mine = json.loads(dom("holiday", "list", "--node", "store-nyc", "--json").stdout)
    assert {"day": "2026-12-31", "node_id": "store-nyc", "name": "NYE"} in mine
    assert "2026-12-31" in node(dom, "store-nyc")["settings"]["holidays"]
    assert "2026-12-31" not in node(dom, "wh-reno")["settings"]["holidays"]

    removed = dom("holiday", "remove", "2026-11-26")  # Thanksgiving, network-wide from config
    assert removed.exit_code == 0, removed.output
    assert "2026-11-26" not in node(dom, "wh-reno")["settings"]["holidays"]
    # The next command seeds the network again: the removed config holiday stays removed.
    assert "2026-11-26" not in dom("holiday", "list").output

    refused(dom("holiday", "remove", "2026-11-26"), "not a holiday", 3)
    refused(dom("holiday", "add", "31/12/2026"), "not a date", 2)
    refused(dom("holiday", "add", "2026-12-31", "--node", "nowhere"), "unknown node", 3)
