"""`dom api`: serve the HTTP API (OpenAPI docs at /docs)."""

from __future__ import annotations

import asyncio

import typer
import uvloop

from workers.cli.common import configure_logging, console, settings


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api(
        port: int = typer.Option(8000, help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 in containers."),
    ) -> None:
        """Serve the HTTP API until Ctrl-C / SIGTERM."""
        import signal

        from workers.api.app import serve

        configure_logging()

        async def go() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            console.print(f"API on http://{host}:{port} (docs at /docs)")
            await serve(settings(), port, stop, host)

        # uvloop: the API is I/O and framework bound, and libuv's loop halves a cached
        # promise's CPU (see `dom bench promise`).
        uvloop.run(go())
