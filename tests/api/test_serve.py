"""`serve()` runs the real app under uvicorn in-process and stops cleanly on its event; the
`dom api` command is part of the real `dom` app."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from dom_workflows.config import Settings
from tests.support.auth import new_key_at
from workers.api.apikeys import auth_headers
from workers.api.app import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_serve_answers_over_tcp_then_stops_on_the_event(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = Settings(
        temporal_address=time_env.client.service_client.config.target_host,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
    )
    port, stop = _free_port(), asyncio.Event()
    task = asyncio.create_task(serve(settings, port, stop))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(100):
            try:
                r = await http.get("/healthz")
                break
            except httpx.TransportError:
                assert not task.done(), task
                await asyncio.sleep(0.05)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        anonymous = await http.get("/v1/orders/NOPE-1")
        assert anonymous.status_code == 401, anonymous.text
        key = await new_key_at(settings.database_url)
        missing = await http.get("/v1/orders/NOPE-1", headers=auth_headers(key))
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
    stop.set()
    await asyncio.wait_for(task, 10)
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


async def test_serve_reports_a_busy_port(time_env: WorkflowEnvironment, tmp_path: Path) -> None:
    settings = Settings(
        temporal_address=time_env.client.service_client.config.target_host,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"could not start on 127.0.0.1:{port}"):
            await asyncio.wait_for(serve(settings, port, asyncio.Event()), 10)


def test_dom_api_command_is_registered() -> None:
    """On the real `dom` app (the console script), not a fresh Typer app."""
    from workers.cli.main import app

    result = CliRunner().invoke(app, ["api", "--help"], prog_name="dom", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage: dom api" in result.output
    assert "--port" in result.output and "--host" in result.output
