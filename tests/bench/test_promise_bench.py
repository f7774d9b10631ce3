"""`dom bench promise` with a short run: it measures both phases over HTTP, writes its figures,
and every order placed right after its promise takes the promised plan. Whether the latency
targets are met is the bench's verdict (exit 2 on a miss), never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dom_workflows.config import PROJECT_ROOT

pytestmark = pytest.mark.devserver

KEYS = {"cached_p99_ms", "uncached_p99_ms", "promise_order_agreement"}


@pytest.mark.timeout(150)
def test_bench_promise_measures_latency_and_agreement(tmp_path: Path) -> None:
    out = tmp_path / "promise.json"
    argv = [sys.executable, "-c", "from workers.cli.main import app; app()", "bench", "promise"]
    argv += [
        "--rate",
        "20",
        "--seconds",
        "2",
        "--carts",
        "10",
        "--pairs",
        "40",
        "--api-workers",
        "1",
    ]
    argv += ["--json", str(out)]
    env = dict(os.environ, DOM_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=140
    )
    assert proc.returncode in (0, 2), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "promise bench" in proc.stdout
    figures = json.loads(out.read_text())
    assert set(figures) >= KEYS
    assert figures["cached_requests"] == figures["uncached_requests"] == 40
    assert figures["cached_errors"] == figures["uncached_errors"] == 0
    assert figures["cached_hits"] == 40  # every cached-phase answer came from the cache
    assert figures["promise_order_pairs"] == 40
    assert figures["promise_order_agreement"] == 1.0
