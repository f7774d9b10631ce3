"""`dom dev` stops everything it started on Ctrl-C, and a second one in the same DOM_HOME says
why it cannot start instead of failing in the Temporal dev server."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from dom_workflows.config import PROJECT_ROOT
from tests.support.devstack import DOM, clean_env, free_ports, start_dev, stop_dev

pytestmark = pytest.mark.devserver


def children(pid: int) -> set[int]:
    """Every descendant of `pid` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_dom_dev_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    stack = start_dev(tmp_path)
    second = second_stack(tmp_path)
    assert second.returncode == 1, second.stderr
    assert "already running in" in second.stderr and f"pid {stack.proc.pid}" in second.stderr
    assert "DOM_HOME=" in second.stderr and "Traceback" not in second.stderr
    kids = children(stack.proc.pid)
    assert kids, "dom dev runs the Temporal dev server as a child process"
    assert stop_dev(stack) == 0, stack.output()
    assert "stopped; nothing left running" in stack.output()
    assert "Traceback" not in stack.output(), stack.output()
    assert not [k for k in kids if alive(k)], f"left running: {kids}"
    for port in (stack.temporal_port, stack.api_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


def second_stack(home: Path) -> subprocess.CompletedProcess[str]:
    """`dom dev` in the same DOM_HOME on other ports: refused before it starts anything."""
    temporal_port, ui_port, api_port = free_ports(3)
    ports = ["--temporal-port", str(temporal_port), "--ui-port", str(ui_port)]
    return subprocess.run(
        [str(DOM), "dev", *ports, "--api-port", str(api_port)],
        cwd=PROJECT_ROOT,
        env=clean_env(DOM_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
