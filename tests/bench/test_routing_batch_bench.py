"""`dom bench routing --batch` on a small run: the table, and the --json fields the issue names
(split_reduction and cost_reduction in percent, promises_broken) agreeing with the two runs.
Whether the targets are met is the bench's verdict, printed, never asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from workers.bench.routing import run_batch_bench
from workers.cli.routing import register


def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """dom"""

    register(app)
    return app


def test_batch_bench_writes_reductions_and_promises_broken(tmp_path: Path) -> None:
    out = tmp_path / "batch.json"
    argv = ["bench", "routing", "--batch", "--orders", "60", "--nodes", "12", "--window", "30"]
    result = CliRunner().invoke(app(), [*argv, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "batch re-optimisation: 60 orders, 12 nodes, seed 7, windows of 30" in result.output
    assert "against the targets" in result.output
    figures = json.loads(out.read_text())
    per_order, batch = figures["per_order"], figures["batch"]
    assert figures["window"] == 30 and per_order["orders"] == batch["orders"] == 60
    split = (1 - batch["split_shipments"] / per_order["split_shipments"]) * 100
    cost = (1 - batch["cost"] / per_order["cost"]) * 100
    assert abs(figures["split_reduction"] - split) < 1e-9
    assert abs(figures["cost_reduction"] - cost) < 1e-6
    assert figures["promises_broken"] == 0
    assert figures["replan_seconds"] > 0


def test_one_window_starts_from_the_per_order_plans() -> None:
    # With one window, the batch starts from exactly the per-order run: it can only improve it.
    bench = run_batch_bench(n_orders=40, n_nodes=10, seed=3, window=0)
    assert bench.window == 40
    assert bench.batch.cost <= bench.per_order.cost
    assert bench.batch.backordered_units <= bench.per_order.backordered_units
    assert bench.batch.promises_kept >= bench.per_order.promises_kept
    assert bench.promises_broken == bench.promises_broken_vs_per_order_run == 0
    assert bench.per_order.split_shipments >= bench.split_shipments_stock_to_itself
