"""`dom api`: serve the HTTP API (OpenAPI docs at /docs)."""

from __future__ import annotations

import asyncio

import typer

from workers.cli.common import (
    Address,
    Namespace,
    configure_logging,
    console,
    settings,
    temporal_env,
)


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api(
        port: int = typer.Option(8000, help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 in containers."),
        workers: int = typer.Option(
            1, "--workers", min=1, max=64, help="API processes sharing the port (one per core)."
        ),
        reuse_port: bool = typer.Option(False, "--reuse-port", hidden=True),
        address: Address = None,
        namespace: Namespace = None,
    ) -> None:
        """Serve the HTTP API until Ctrl-C / SIGTERM."""
        import signal

        from workers.api.app import serve

        configure_logging()
        if workers > 1:
            raise typer.Exit(supervise(workers, port, host))

        async def go() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            console.print(f"API on http://{host}:{port} (docs at /docs)")
            await serve(settings(), port, stop, host, reuse_port=reuse_port)

        # uvloop: the API is I/O and framework bound, and libuv's loop halves a cached
        # promise's CPU (see `dom bench promise`).
        import uvloop

        uvloop.run(go())


def supervise(workers: int, port: int, host: str) -> int:
    """Run `workers` API processes on one port (SO_REUSEPORT) until Ctrl-C / SIGTERM, which is
    passed on to each; returns the first non-zero exit code, if any."""
    import os
    import signal
    import subprocess
    import sys

    argv = [sys.executable, "-c", "from workers.cli.main import app; app()", "api"]
    argv += ["--port", str(port), "--host", host, "--reuse-port"]
    # The children read --address / --namespace from the environment.
    env = {**os.environ, **temporal_env()}
    children = [subprocess.Popen(argv, env=env) for _ in range(workers)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [child.wait() for child in children]
    return next((c for c in codes if c not in (0, -signal.SIGINT, -signal.SIGTERM)), 0)
