"""`dom bench crash` with a few orders, a worker kill and a failing partner: it audits every order
and ends with `dom reconcile` comparing the partners' records with the DOM (issue 13's check).
Nothing here asserts a duration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dom_workflows.config import PROJECT_ROOT

pytestmark = pytest.mark.devserver


@pytest.mark.timeout(180)
def test_bench_crash_ends_with_a_reconciliation_that_compared_every_order(tmp_path: Path) -> None:
    out = tmp_path / "crash.json"
    argv = [sys.executable, "-c", "from workers.cli.main import app; app()", "bench", "crash"]
    argv += ["--orders", "8", "--kills", "1", "--server-kill", "0", "--fail-rate", "0.2"]
    argv += ["--rate", "4", "--settle", "90", "--json", str(out)]
    env = dict(os.environ, DOM_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=170
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["ok"] is True
    assert figures["completed"] == 8
    assert figures["reconcile_divergences"] == []
    assert figures["reconcile_not_compared"] == []
    assert figures["reconcile_compared"]["orders"] >= 8
    assert figures["reconcile_compared"]["captures"] >= 8
    assert "reconciliation divergences" in proc.stdout
