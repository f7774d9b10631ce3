"""`dom route` and `dom bench routing` through typer's test runner."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tests.support.routing import SCENARIOS
from workers.cli.routing import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """dom"""

    register(app)
    return app


runner = CliRunner()

SHIPMENT_KEYS = {
    "node",
    "lines",
    "service",
    "zone",
    "billable_lb",
    "shipping_cost",
    "handling_cost",
}


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.json")))
def test_route_json_answers_the_contract(app: typer.Typer, name: str) -> None:
    result = runner.invoke(app, ["route", str(SCENARIOS / f"{name}.json"), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert {"total_cost", "shipments_count", "backordered", "shipments", "explanation"} <= set(plan)
    assert plan["shipments_count"] == len(plan["shipments"]) >= 1
    for s in plan["shipments"]:
        assert set(s) >= SHIPMENT_KEYS
        assert all({"sku", "qty"} <= set(line) for line in s["lines"])
    assert plan["explanation"]["summary"]


def test_route_explain_prints_reasons_and_alternatives(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["route", str(SCENARIOS / "store-floor.json"), "--explain", "--strategy", "distance"]
    )
    assert result.exit_code == 0, result.output
    assert "via distance" in result.stdout
    for text in ("candidates", "excluded", "alternatives", "store-outerwear-floor", "optimal"):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"nodes": [', "not valid JSON"),
        ('{"nodes": []}', "invalid scenario"),
    ],
)
def test_route_bad_input_exits_non_zero(
    app: typer.Typer, tmp_path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = runner.invoke(app, ["route", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr


def test_route_unknown_zip_exits_non_zero(app: typer.Typer, tmp_path) -> None:
    data = json.loads((SCENARIOS / "florida-tuesday.json").read_text())
    data["order"]["ship_to"] = {"zip": "99999"}
    path = tmp_path / "zip.json"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["route", str(path), "--json"])
    assert result.exit_code == 2
    assert "99999 is not a known US ZIP code" in result.stderr
    assert result.stdout == ""


def test_route_missing_file(app: typer.Typer) -> None:
    result = runner.invoke(app, ["route", "does-not-exist.json"])
    assert result.exit_code == 2
    assert "cannot read scenario" in result.stderr


def test_bench_routing_prints_the_table_and_writes_json(app: typer.Typer, tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = runner.invoke(
        app,
        ["bench", "routing", "--orders", "15", "--nodes", "12", "--seed", "3", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    for name in ("optimal", "priority", "distance", "shopify", "fewest-splits", "p99 ms"):
        assert name in result.stdout
    data = json.loads(out.read_text())
    assert next(s["strategy"] for s in data["strategies"]) == "optimal"
    best = {s["strategy"]: s["mean_cost"] for s in data["strategies"]}
    assert all(best["optimal"] <= v + 1e-9 for v in best.values())
    # The capacity day: the same orders in sequence against daily limits, balancing off and on.
    assert "one day against daily capacity" in result.stdout and "max util" in result.stdout
    off, on = data["capacity_day"]
    assert off["balance_per_utilisation"] == 0 and on["balance_per_utilisation"] == 5
    assert off["orders"] == on["orders"] == 15 and 0 < off["max_utilisation"] <= 1
