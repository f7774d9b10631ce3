"""Helpers shared by the CLI modules: running coroutines, printing JSON, loading settings."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from dom_workflows.config import Settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def settings() -> Settings:
    return Settings.from_env()


def print_json(data: BaseModel | dict[str, Any] | list[Any]) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def configure_logging() -> None:
    """INFO for the service's own messages; per-request lines of the HTTP clients only when
    asked for (DOM_LOG_LEVEL=DEBUG), so a busy worker does not spend its time logging."""
    import logging
    import os

    level = os.environ.get("DOM_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
