"""`dom network` and `dom node enable|drain|disable` against a real SQLite DOM database: version 1
is seeded from the files, apply shows the diff and records who, --dry-run and bad documents
change nothing (one-line error, no traceback), rollback makes a new equal version."""

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
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


def ok(r: Result) -> str:
    assert r.exit_code == 0, r.output
    return r.output


def active_version(dom: Any) -> int:
    versions = json.loads(ok(dom("network", "history", "--json")))
    return int(versions[0]["version"])


def test_apply_dry_run_refusal_history_and_rollback(dom: Any, tmp_path: Path) -> None:
    doc = json.loads(ok(dom("network", "show", "--document")))
    assert active_version(dom) == 1
    doc["node_states"] = {"wh-reno": "draining"}
    doc["policy"]["split_penalty"] = "5.00"
    path = tmp_path / "net.json"
    path.write_text(json.dumps(doc))

    out = ok(dom("network", "apply", str(path), "--dry-run"))
    assert "~ node state wh-reno: active -> draining" in out
    assert "~ policy split_penalty: 3.00 -> 5.00" in out and "dry run" in out
    assert active_version(dom) == 1

    out = ok(dom("network", "apply", str(path), "-m", "storm in Reno", "--by", "alice"))
    assert "version 2 is active (policy version 2)" in out
    [v2, v1] = json.loads(ok(dom("network", "history", "--json")))
    assert (v2["author"], v2["comment"], v1["author"]) == ("alice", "storm in Reno", "network-seed")

    doc["node_scopes"] = {"wh-atlantis": {"states": ["TX"]}}
    path.write_text(json.dumps(doc))
    r = dom("network", "apply", str(path))
    assert r.exit_code == 1 and "node_scopes: unknown node wh-atlantis" in r.output
    assert "Traceback" not in r.output and active_version(dom) == 2
    path.write_text("{not json")
    r = dom("network", "apply", str(path))
    assert r.exit_code == 1 and "not valid JSON" in r.output

    out = ok(dom("network", "rollback", "1"))
    assert "version 3 is active" in out
    shown = json.loads(ok(dom("network", "show", "3", "--json")))
    assert shown["rollback_of"] == 1 and shown["document"]["node_states"] == {}
    r = dom("network", "show", "42")
    assert r.exit_code == 3 and "no network version 42" in r.output


def test_node_lifecycle_commands_make_versions(dom: Any) -> None:
    assert "node state store-la: active -> draining" in ok(dom("node", "drain", "store-la"))
    assert "draining -> disabled" in ok(dom("node", "disable", "store-la"))
    assert "disabled -> active" in ok(dom("node", "enable", "store-la", "-m", "back"))
    assert active_version(dom) == 4
    table = ok(dom("network", "show"))
    assert "store-la" in table and "draining" not in table
    r = dom("node", "drain", "nowhere")
    assert r.exit_code == 3 and "unknown node 'nowhere'" in r.output


def test_scopes_of_an_order_never_routed_is_not_found(dom: Any) -> None:
    r = dom("network", "scopes", "NEVER-1")
    assert r.exit_code == 3 and "no routing decision for order 'NEVER-1'" in r.output
