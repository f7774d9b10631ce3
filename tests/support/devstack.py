"""`dom dev` (no --demo) as a user starts it, on free ports with its own DOM_HOME, and a runner
for `dom ...` commands pointed at it, each a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dom_workflows.config import PROJECT_ROOT

DOM = Path(sys.executable).parent / "dom"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(n: int) -> list[int]:
    """n free ports; the Temporal port also needs port + 1000 (the dev server's HTTP API)."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in ports and port + 1000 < 65536 and _free(port + 1000):
            ports.append(port)
    return ports


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any DOM_/TEMPORAL_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOM_", "TEMPORAL_"))}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **extra})
    return env


@dataclass
class Result:
    args: list[str]
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"`dom {' '.join(self.args)}` exited {self.code}\n{self.output}"


@dataclass
class DevStack:
    proc: subprocess.Popen[bytes]
    home: Path
    temporal_port: int
    api_port: int
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return clean_env(
            DOM_HOME=str(self.home),
            TEMPORAL_ADDRESS=f"127.0.0.1:{self.temporal_port}",
            DOM_API_URL=f"http://127.0.0.1:{self.api_port}",
        )

    async def dom(self, *args: str) -> Result:
        """`dom <args>` in a subprocess from the repository root, as the README runs it."""
        proc = await asyncio.create_subprocess_exec(
            str(DOM),
            *args,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(60):
                out, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"`dom {' '.join(args)}` hung") from None
        assert proc.returncode is not None
        return Result(list(args), proc.returncode, out.decode(), err.decode())

    async def ok(self, *args: str) -> Result:
        r = await self.dom(*args)
        assert r.code == 0, str(r)
        assert "Traceback" not in r.output, str(r)
        return r

    async def order(self, order_id: str) -> dict[str, Any]:
        state: dict[str, Any] = (await self.ok("order", "show", order_id, "--json")).json()
        return state

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_dev(home: Path) -> DevStack:
    temporal_port, ui_port, api_port = free_ports(3)
    log = home / "dom-dev.out"
    env = clean_env(DOM_HOME=str(home))
    proc = subprocess.Popen(
        [
            str(DOM),
            "dev",
            "--temporal-port",
            str(temporal_port),
            "--ui-port",
            str(ui_port),
            "--api-port",
            str(api_port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    stack = DevStack(proc, home, temporal_port, api_port, log)
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, f"dom dev exited with {proc.returncode}:\n{stack.output()}"
        try:
            if httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2).status_code == 200:
                return stack
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_dev(stack)
            raise AssertionError(f"dom dev did not answer /healthz:\n{stack.output()}")
        time.sleep(0.2)


def stop_dev(stack: DevStack, timeout: float = 30) -> int:
    """Ctrl-C, as a user stops it; the exit code."""
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGINT)
        try:
            return stack.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stack.proc.kill()
            stack.proc.wait()
            raise AssertionError(f"dom dev ignored Ctrl-C:\n{stack.output()}") from None
    return stack.proc.returncode
