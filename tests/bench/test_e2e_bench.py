"""`dom bench e2e` end to end with a few orders: it runs, writes its figures, and leaves nothing
running. Timing targets are the bench's business; nothing here asserts a duration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dom_workflows.config import PROJECT_ROOT

pytestmark = pytest.mark.devserver

KEYS = {
    "orders_per_s",
    "round_trips_per_order",
    "ratio_vs_bare",
    "routed_p99_s",
    "completed_p99_s",
    "cpu_ms_per_order",
}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.timeout(120)
def test_bench_e2e_completes_every_order_and_leaves_nothing_running(tmp_path: Path) -> None:
    out = tmp_path / "e2e.json"
    argv = [sys.executable, "-c", "from workers.cli.main import app; app()"]
    argv += ["bench", "e2e", "--orders", "10", "--concurrency", "5", "--warmup", "1"]
    argv += ["--json", str(out)]
    env = dict(os.environ, DOM_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=110
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert set(figures) >= KEYS
    assert figures["orders"] == figures["completed"] == 10
    assert figures["bare"]["completed"] == 10
    assert figures["round_trips_per_order"] > 0
    assert figures["bare"]["round_trips_per_order"] > 0
    assert figures["orders_per_s"] > 0 and figures["ratio_vs_bare"] > 0
    assert figures["routed_p99_s"] is not None and figures["completed_p99_s"] is not None
    assert figures["cpu_ms_per_order"]["worker"] > 0
    assert "round trips" in proc.stdout
    assert "PASS" in proc.stdout or "MISS" in proc.stdout
    assert set(figures["pids"]) == {"temporal", "worker", "api", "simulator", "bare-worker"}
    left = [name for name, pid in figures["pids"].items() if _alive(pid)]
    assert not left, f"still running: {left}"
    assert "GIL" not in proc.stderr, proc.stderr[-2000:]
