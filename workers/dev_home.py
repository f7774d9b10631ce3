"""What `dom dev` keeps in its DOM_HOME: the lock that keeps a second stack out of the same
folder, the ports it needs, and the log files its processes write to.

Two stacks in one folder would share the Temporal dev server's SQLite file: the second server
dies on SQLITE_BUSY and all the user saw was "the Temporal dev server exited with 1". The lock
(an flock on DOM_HOME/dev.lock, released by the kernel however the first stack ends) turns that
into a message naming the running stack and what to do."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console

LOCK_FILE = "dev.lock"
LOG_DIR = "logs"


class StackBusy(Exception):
    """Another stack holds this DOM_HOME or a port this one needs; the message says what to do."""


def log_path(home: Path, name: str) -> Path:
    """DOM_HOME/logs/<name>.log, the folder made if needed."""
    folder = home / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


@contextlib.contextmanager
def stack_lock(home: Path, ports: dict[str, int]) -> Iterator[None]:
    """Hold DOM_HOME for this stack, writing its pid and ports into the lock file for the next
    one to name; StackBusy if another stack holds it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    handle: IO[str] = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            other = json.loads(handle.read() or "{}")
        except ValueError:
            other = {}
        handle.close()
        raise StackBusy(busy_message(home, other)) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), **ports}))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


def busy_message(home: Path, other: dict[str, int]) -> str:
    pid = other.get("pid")
    where = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in other.items() if k != "pid")
    return (
        f"a dom dev stack is already running in {home.resolve()}"
        + (f" (pid {pid}{', ' + where if where else ''})" if pid else "")
        + ". Stop it first (Ctrl-C in its terminal"
        + (f", or kill {pid}" if pid else "")
        + "), or start this one in another folder with other ports: "
        "make run DOM_HOME=/tmp/dom2 PORT=8010 (or dom dev with DOM_HOME and "
        "--api-port/--temporal-port/--ui-port)"
    )


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def check_ports(ports: dict[str, int]) -> None:
    """StackBusy naming every port another process already listens on."""
    taken = [
        f"{name.replace('_', ' ')} {port}" for name, port in ports.items() if port_in_use(port)
    ]
    if taken:
        raise StackBusy(
            f"in use by another process: {', '.join(taken)} (another dom dev or Temporal?). "
            "Stop it, or choose other ports: make run PORT=8010 or dom dev --api-port 8010 "
            "--temporal-port 7300 --ui-port 8300"
        )


@contextlib.contextmanager
def output_to_log(path: Path) -> Iterator[Console]:
    """Everything this process writes to stdout and stderr goes to `path`, at the file
    descriptor level: Python's log handlers, uvicorn, warnings, stray tracebacks of dying tasks
    and the Temporal SDK core's own lines (written by Rust, past Python's logging). The returned
    console writes to the terminal, which the demo board owns alone. Restored on exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        yield Console(file=terminal)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        terminal.close()
