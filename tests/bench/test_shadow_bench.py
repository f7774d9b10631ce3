"""`dom bench routing --shadow FILE`: the live plan alone and with the candidate's shadow plan,
on the routing bench's orders (figures, not timings, are checked: no timed tests)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dom_workflows.routing import Policy
from workers.bench.routing import POLICY
from workers.bench.shadow import run_shadow_bench
from workers.cli.main import app


def test_the_same_policy_in_shadow_moves_nothing_and_a_forbidding_one_moves_orders() -> None:
    same = run_shadow_bench(Policy.model_validate(POLICY), n_orders=40, n_nodes=12, seed=4)
    assert same.orders == 40 and same.moved_orders == 0 and same.cost_delta == 0
    no_wh = {**POLICY, "rules": [*POLICY["rules"], {"name": "no-wh", "when": {},
             "then": {"exclude_node_types": ["warehouse"]}}]}  # fmt: skip
    moved = run_shadow_bench(Policy.model_validate(no_wh), n_orders=40, n_nodes=12, seed=4)
    assert moved.moved_orders > 0 and moved.cost_delta > 0


def test_the_bench_option_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    cand = tmp_path / "cand.json"
    cand.write_text(json.dumps({**POLICY, "split_penalty": "9.00"}))
    out = tmp_path / "bench.json"
    r = CliRunner().invoke(
        app,
        ["bench", "routing", "--orders", "30", "--nodes", "10", "--shadow", str(cand),
         "--json", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "live plan alone" in r.output and "live + shadow" in r.output
    doc = json.loads(out.read_text())["shadow"]
    assert doc["orders"] == 30 and doc["target_added_p99_ms"] == 1.0
    assert doc["with_shadow_p99_ms"] >= doc["added_p50_ms"] >= 0
    assert doc["added_cpu_p99_ms"] >= doc["added_cpu_p50_ms"] >= 0
    assert "added, CPU time only" in r.output
