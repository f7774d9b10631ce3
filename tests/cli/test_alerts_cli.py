"""`dom alerts` (list, rules, set, load) and `dom inventory replenish` against a real SQLite DOM
database: rich tables, JSON, and one-line errors with the documented exit codes, no traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from activities.inventory.db import create_engine, migrate, seed_network
from dom_workflows.network import Network
from tests.support.alerts import T0, ScriptedVisibility, run, set_available
from workers.cli.main import app

Dom = Callable[..., Result]


@pytest.fixture
def dom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network: Network) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}"
    monkeypatch.setenv("DOM_HOME", str(tmp_path))
    monkeypatch.setenv("DOM_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "250")

    async def seed() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
            await seed_network(engine, network)
            await set_available(engine, "wh-reno", "JKT-RAIN-L", 3)
            orders = ScriptedVisibility()
            orders.start("OK-1", T0)
            await run(engine, orders, T0)  # the default rules: low stock at wh-reno opens
        finally:
            await engine.dispose()

    asyncio.run(seed())
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


def test_dom_alerts_lists_the_open_ones_and_the_history(dom: Dom) -> None:
    r = dom("alerts")
    assert r.exit_code == 0, r.output
    assert (
        "low-stock" in r.output and "wh-reno/JKT-RAIN-L" in r.output and "3 available" in r.output
    )
    resolved = dom("alerts", "list", "--status", "resolved")
    assert resolved.exit_code == 0 and "no resolved alerts" in resolved.output
    doc = json.loads(dom("alerts", "list", "--json").stdout)
    assert [a["key"] for a in doc] == ["low-stock:wh-reno/JKT-RAIN-L"]
    bad = dom("alerts", "list", "--status", "closed")
    assert bad.exit_code == 2 and "open, resolved, all" in bad.output


def test_dom_alerts_rules_set_and_load(dom: Dom, tmp_path: Path) -> None:
    r = dom("alerts", "rules")
    assert r.exit_code == 0, r.output
    for rule_id in ("order-not-routed", "no-orders", "fulfilment-overdue", "node-rejection-rate",
                    "feed-failing", "feed-silent", "low-stock"):  # fmt: skip
        assert rule_id in r.output
    changed = dom("alerts", "set", "low-stock", "threshold=2", 'nodes=["wh-reno"]')
    assert changed.exit_code == 0, changed.output
    assert "threshold=2" in changed.output
    rules = {x["id"]: x for x in json.loads(dom("alerts", "rules", "--json").stdout)}
    assert rules["low-stock"]["threshold"] == 2 and rules["low-stock"]["nodes"] == ["wh-reno"]
    bad = dom("alerts", "set", "low-stock", "threshold=0")
    assert bad.exit_code == 2 and "threshold" in bad.output and "Traceback" not in bad.output
    assert dom("alerts", "set", "absent", "threshold=1").exit_code == 3
    good_file = tmp_path / "rules.json"
    good_file.write_text(
        json.dumps([{"id": "feeds-reno", "kind": "feed-silent", "nodes": ["wh-reno"]}])
    )
    loaded = dom("alerts", "load", str(good_file))
    assert loaded.exit_code == 0 and "1 rule(s) loaded" in loaded.output
    assert "feeds-reno" in dom("alerts", "rules").output
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps([{"id": "x", "kind": "no-orders", "minutes": -1}]))
    refused = dom("alerts", "load", str(bad_file))
    assert refused.exit_code == 2 and "minutes" in refused.output


def test_dom_inventory_replenish(dom: Dom) -> None:
    r = dom(
        "inventory", "replenish", "--sku", "JKT-RAIN-L", "--node", "wh-reno", "--lead-days", "3"
    )
    assert r.exit_code == 0, r.output
    assert "wh-reno" in r.output and "days of cover" in r.output and "lead 3 d" in r.output
    doc = json.loads(dom("inventory", "replenish", "--json").stdout)
    assert doc["params"]["lead_days"] == 7 and len(doc["suggestions"]) > 100
    bad = dom("inventory", "replenish", "--service-level", "1.5")
    assert bad.exit_code == 2 and "--service-level" in bad.output
    none = dom("inventory", "replenish", "--sku", "NOPE")
    assert none.exit_code == 3 and "no inventory positions for NOPE" in none.output
