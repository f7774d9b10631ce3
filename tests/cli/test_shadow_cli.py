"""`dom shadow add|list|pause|remove|report` and `dom whatif` against a real SQLite DOM database
and generated recorded orders: tables, JSON, one-line errors with the CLI's exit codes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from activities.inventory import schema
from activities.inventory.db import create_engine, migrate
from activities.shadow.compare import Outcome
from activities.shadow.record import row_values
from workers.bench.whatif import write_sample
from workers.cli.main import app

CANDIDATE = """split_penalty: "8.00"
max_shipments: 2
rules:
  - {name: no-dropship, when: {}, then: {exclude_node_types: [dropship]}}
"""


@pytest.fixture
def dom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}"
    monkeypatch.setenv("DOM_HOME", str(tmp_path))
    monkeypatch.setenv("DOM_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")

    async def seed() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
            async with engine.begin() as conn:
                for order_id, live, shadow in (
                    ("A", ("10.00", ["wh-dallas"]), ("12.00", ["wh-reno"])),
                    ("B", ("20.00", ["wh-dallas", "wh-reno"]), ("16.00", ["wh-reno"])),
                ):
                    await conn.execute(
                        schema.shadow_plans.insert().values(
                            order_id=order_id,
                            route_attempt=1,
                            policy="cand",
                            currency="USD",
                            created_at=datetime.now(UTC),
                            **row_values(
                                Outcome(
                                    d := Decimal(live[0]), d, len(live[1]), 0, True, tuple(live[1])
                                ),
                                Outcome(
                                    s := Decimal(shadow[0]),
                                    s,
                                    len(shadow[1]),
                                    0,
                                    True,
                                    tuple(shadow[1]),
                                ),
                            ),
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(seed())
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


def test_add_list_pause_remove_a_shadow_policy(dom: Any, tmp_path: Path) -> None:
    f = tmp_path / "cand.yaml"
    f.write_text(CANDIDATE)
    r = dom("shadow", "add", "cand-1", str(f))
    assert r.exit_code == 0 and "added" in r.output, r.output
    listed = json.loads(dom("shadow", "list", "--json").stdout)
    assert [(p["name"], p["active"]) for p in listed] == [("cand-1", True)]
    assert listed[0]["policy"]["split_penalty"] == "8.00"
    assert dom("shadow", "pause", "cand-1").exit_code == 0
    assert "paused" in dom("shadow", "list").output
    assert dom("shadow", "remove", "cand-1").exit_code == 0
    assert json.loads(dom("shadow", "list", "--json").stdout) == []
    gone = dom("shadow", "remove", "cand-1")
    assert gone.exit_code == 3 and "no shadow policy named" in gone.output


def test_a_bad_policy_or_name_is_a_one_line_usage_error(dom: Any, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("split_penalty: -1\n")
    r = dom("shadow", "add", "bad", str(f))
    assert r.exit_code == 2 and "split_penalty" in r.output and "Traceback" not in r.output
    f.write_text(CANDIDATE)
    assert dom("shadow", "add", "no spaces", str(f)).exit_code == 2
    assert dom("shadow", "add", "x", str(tmp_path / "missing.yaml")).exit_code == 2


def test_report_prints_the_deltas_as_a_table_and_json(dom: Any) -> None:
    r = dom("shadow", "report", "--since", "1d")
    assert r.exit_code == 0, r.output
    for needle in ("policy cand", "30.00", "28.00", "-2.00", "-1.00", "split orders",
                   "node load shift", "wh-dallas"):  # fmt: skip
        assert needle in r.output, (needle, r.output)
    doc = json.loads(dom("shadow", "report", "--json", "--policy", "cand").stdout)
    (p,) = doc["policies"]
    assert (p["orders"], p["cost_delta"], p["split_delta"], p["moved"]) == (
        2,
        "-2.00",
        -1,
        ["A", "B"],
    )
    assert dom("shadow", "report", "--since", "yesterday-ish").exit_code == 2


def test_whatif_replays_a_file_of_recorded_orders(dom: Any, tmp_path: Path) -> None:
    orders, net, pol = tmp_path / "o.jsonl", tmp_path / "n.json", tmp_path / "p.json"
    write_sample(orders, net, pol, 40, 12, seed=2)
    cand = tmp_path / "cand.yaml"
    cand.write_text(CANDIDATE)
    args = ["whatif", "--policy", str(cand), "--orders", str(orders), "--network", str(net),
            "--base-policy", str(pol)]  # fmt: skip
    r = dom(*args)
    assert r.exit_code == 0, r.output
    assert "policy cand" in r.output and "replayed 40 orders" in r.output
    doc = json.loads(dom(*args, "--json").stdout)
    (p,) = doc["policies"]
    assert doc["replayed"] == 40 and p["orders"] + p["unplanned"] == 40
    assert p["shadow_split_orders"] <= p["live_split_orders"]  # max 2 shipments, dearer splits


def test_whatif_usage_errors(dom: Any, tmp_path: Path) -> None:
    cand = tmp_path / "cand.yaml"
    cand.write_text(CANDIDATE)
    both = dom("whatif", "--policy", str(cand))
    assert both.exit_code == 2 and "exactly one of --orders" in both.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    r = dom("whatif", "--policy", str(cand), "--orders", str(bad))
    assert r.exit_code == 2 and "bad.jsonl:1" in r.output
    empty = dom("whatif", "--policy", str(cand), "--since", "7d", "--json")
    assert empty.exit_code == 0 and json.loads(empty.stdout)["replayed"] == 0


def test_shadow_sample_writes_files_whatif_replays(dom: Any, tmp_path: Path) -> None:
    folder = tmp_path / "sample"
    r = dom("shadow", "sample", str(folder), "--orders", "25", "--nodes", "10")
    assert r.exit_code == 0, r.output
    lines = (folder / "orders.jsonl").read_text().splitlines()
    assert len(lines) == 25 and all("live" in json.loads(ln) for ln in lines)
    cand = tmp_path / "cand.yaml"
    cand.write_text(CANDIDATE)
    doc = json.loads(
        dom("whatif", "--policy", str(cand), "--orders", str(folder / "orders.jsonl"),
            "--network", str(folder / "network.json"), "--json").stdout
    )  # fmt: skip
    assert doc["replayed"] == 25 and not doc["skipped"]


async def test_whatif_since_replays_the_decisions_the_dom_recorded(
    sqlite_engine: Any, network: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from activities.inventory.activities import InventoryActivities
    from activities.shadow import policies
    from tests.support.shadow import NOW, live_policy, route_input, without

    acts = InventoryActivities(sqlite_engine, network, live_policy())
    await policies.add(sqlite_engine, "no-columbus", without("wh-columbus"), NOW)
    used = {}
    for k, qty in enumerate((1, 3, 2)):
        result = await acts.reserve_and_route(route_input(f"D-{k}", qty))
        used[f"D-{k}"] = {f.node for f in result.fulfillments}
    forbidden = sorted(used["D-0"])[0]
    cand = tmp_path / "forbid.json"
    cand.write_text(json.dumps(without(forbidden).model_dump(mode="json")))
    monkeypatch.setenv("DOM_HOME", str(tmp_path))
    monkeypatch.setenv("DOM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}")
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    doc = await asyncio.to_thread(
        lambda: json.loads(
            invoke("whatif", "--policy", str(cand), "--since", "1d", "--json").stdout
        )
    )
    (p,) = doc["policies"]
    assert doc["replayed"] == 3 and p["orders"] == 3
    assert p["moved"] == sorted(o for o, nodes in used.items() if forbidden in nodes)
    report = await asyncio.to_thread(
        lambda: json.loads(invoke("shadow", "report", "--json").stdout)
    )
    (q,) = report["policies"]
    assert (q["policy"], q["orders"]) == ("no-columbus", 3)
