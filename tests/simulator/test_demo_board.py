"""The live board of `dom dev --demo` leaves the process's output streams alone (rich's stream
proxies import lazily, and a record logged inside the workflow sandbox would run that import
there), and while it is shown the worker's log records go to a file, not over the table."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from temporalio.client import Client

from workers.demo import StreamStats, status_board


class NoVisibility:
    """A client whose visibility store is down: the board shows zeros and carries on."""

    async def count_workflows(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("visibility is down")


async def test_live_board_keeps_the_original_streams_and_logs_to_a_file(tmp_path: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    assert console.is_terminal
    stdout, stderr = sys.stdout, sys.stderr
    root = logging.getLogger()
    # A handler writing to the terminal, like logging.basicConfig() installs.
    on_terminal = logging.StreamHandler(sys.stderr)
    root.addHandler(on_terminal)
    log_path = tmp_path / "worker.log"
    stop = asyncio.Event()
    board = asyncio.create_task(
        status_board(
            cast(Client, NoVisibility()),
            StreamStats(),
            {"API": "http://x"},
            stop,
            console,
            datetime.now(UTC),
            every=0.02,
            log_path=log_path,
        )
    )
    try:
        for _ in range(100):
            if "Demo orders by status" in screen.getvalue():
                break
            await asyncio.sleep(0.02)
        assert "Demo orders by status" in screen.getvalue()  # the board is live
        assert sys.stdout is stdout and sys.stderr is stderr
        assert on_terminal not in root.handlers
        logging.getLogger("temporalio.worker._workflow_instance").warning(
            "Failed decoding arguments for handler shipment_event"
        )
        assert "Failed decoding" not in screen.getvalue()
    finally:
        stop.set()
        await board
        root.removeHandler(on_terminal)
    assert "Failed decoding arguments for handler shipment_event" in log_path.read_text()
    assert sys.stdout is stdout and sys.stderr is stderr


async def test_the_terminal_handlers_come_back_when_the_board_stops(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    root = logging.getLogger()
    on_terminal = logging.StreamHandler(sys.stderr)
    root.addHandler(on_terminal)
    before = list(root.handlers)
    stop = asyncio.Event()
    stop.set()
    try:
        await status_board(
            cast(Client, NoVisibility()),
            StreamStats(),
            {},
            stop,
            console,
            datetime.now(UTC),
            log_path=tmp_path / "worker.log",
        )
        assert root.handlers == before
    finally:
        root.removeHandler(on_terminal)
