"""DOM_HOME of `dom dev`: one stack per folder (the lock names the one running), ports in use
said before anything starts, and the process's output sent to a log file at the descriptor
level so the demo board owns the terminal (workers/dev_home.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dom_workflows.config import PROJECT_ROOT
from workers.dev_home import StackBusy, check_ports, log_path, stack_lock


def test_a_second_stack_in_the_same_home_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    with stack_lock(tmp_path, {"api_port": 8000, "ui_port": 8233}):
        assert json.loads((tmp_path / "dev.lock").read_text())["pid"] == os.getpid()
        with pytest.raises(StackBusy) as busy, stack_lock(tmp_path, {"api_port": 8001}):
            pass
    message = str(busy.value)
    assert f"already running in {tmp_path}" in message and f"pid {os.getpid()}" in message
    assert "api port 8000" in message and "make run DOM_HOME=" in message
    with stack_lock(tmp_path, {"api_port": 8001}):  # free again once the first one ended
        pass


def test_the_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    """A stack killed with SIGKILL leaves the file behind but not the lock (flock)."""
    holder = "from pathlib import Path; from workers.dev_home import stack_lock\n"
    holder += f"with stack_lock(Path({str(tmp_path)!r}), {{}}): print('held', flush=True); input()"
    proc = subprocess.Popen(
        [sys.executable, "-c", holder],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(StackBusy), stack_lock(tmp_path, {}):
            pass
    finally:
        proc.kill()
        proc.wait()
    with stack_lock(tmp_path, {}):
        pass


def test_a_port_in_use_is_named_before_anything_starts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(StackBusy) as busy:
            check_ports({"api_port": port})
    assert f"api port {port}" in str(busy.value) and "PORT=" in str(busy.value)


def test_output_goes_to_the_log_and_the_console_to_the_terminal(tmp_path: Path) -> None:
    """Run in a child whose stdout is a pipe standing in for the terminal: what the process
    writes to its descriptors 1 and 2 (as the Temporal core does, past Python) lands in the log,
    what the returned console prints reaches the terminal."""
    log = log_path(tmp_path, "worker")
    script = f"""
import os, sys
from pathlib import Path
from workers.dev_home import output_to_log
with output_to_log(Path({str(log)!r})) as screen:
    screen.print("board")
    os.write(2, b"core: WARN from rust\\n")
    print("stray print", flush=True)
    sys.stderr.write("Traceback (most recent call last): ...\\n")
print("after")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["board", "after"] and done.stderr == ""
    written = log.read_text()
    assert "WARN from rust" in written and "stray print" in written and "Traceback" in written
    assert log == tmp_path / "logs" / "worker.log"
