"""Helpers shared by the CLI modules: running coroutines, printing JSON, loading settings, the
Temporal options and the exit codes (docs/cli.md lists them).

This module is imported by every command module when `dom` starts, so it imports nothing heavy
at module level: `dom --help` must not pay for Temporal, SQLAlchemy or the workflows."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from dataclasses import replace
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from dom_workflows.config import Settings

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


class ExitCode(IntEnum):
    """Every `dom` command ends with one of these (documented in docs/cli.md)."""

    OK = 0
    FAILED = 1  # the command ran and the answer is no: refused, invalid order, violations found
    USAGE = 2  # bad flags, arguments or input files (click uses 2 for its own usage errors)
    NOT_FOUND = 3  # the order, return, node, cart... named does not exist
    UNAVAILABLE = 4  # Temporal or the DOM database cannot be reached or opened
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# --address / --namespace override the environment for the whole command: their callbacks
# record the value here, so every settings() call the command makes (also in nested helpers)
# talks to the same Temporal.
_overrides: dict[str, str] = {}


def _remember(field: str) -> Any:
    def callback(value: str | None) -> str | None:
        if value:
            _overrides[field] = value
        return value

    return callback


Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Temporal frontend host:port [default: $TEMPORAL_ADDRESS or localhost:7233].",
        callback=_remember("temporal_address"),
        show_default=False,
    ),
]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="Temporal namespace [default: $TEMPORAL_NAMESPACE or default].",
        callback=_remember("temporal_namespace"),
        show_default=False,
    ),
]


def temporal_env() -> dict[str, str]:
    """--address / --namespace as the environment variables a child `dom` process reads."""
    names = {"temporal_address": "TEMPORAL_ADDRESS", "temporal_namespace": "TEMPORAL_NAMESPACE"}
    return {names[k]: v for k, v in _overrides.items()}


def settings() -> Settings:
    """The environment's settings with the command's --address / --namespace applied."""
    s = Settings.from_env()
    return replace(
        s,
        temporal_address=_overrides.get("temporal_address", s.temporal_address),
        temporal_namespace=_overrides.get("temporal_namespace", s.temporal_namespace),
    )


def print_json(data: BaseModel | dict[str, Any] | list[Any]) -> None:
    if not isinstance(data, dict | list):
        data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = ExitCode.FAILED) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(int(code))


def not_found(message: str) -> typer.Exit:
    return fail(message, ExitCode.NOT_FOUND)


def usage(message: str) -> typer.Exit:
    return fail(message, ExitCode.USAGE)


def for_status(status: int) -> ExitCode:
    """The exit code of a refusal the API would answer with this HTTP status."""
    return ExitCode.NOT_FOUND if status == 404 else ExitCode.FAILED


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def database_url(*, create: bool = False) -> str:
    """The DOM database URL, refusing a SQLite file that is not there: opening it would create
    a stray empty database wherever the command happens to run (DOM_HOME defaults to `.dom`
    in the current folder). With `create`, a missing file is made only where the user pointed
    DOM_HOME or DOM_DATABASE_URL explicitly."""
    s = settings()
    url = s.database_url
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return url
    path = Path(url.removeprefix(prefix))
    explicit = bool(os.environ.get("DOM_HOME", "").strip()) or bool(
        os.environ.get("DOM_DATABASE_URL", "").strip()
    )
    if path.exists() or (create and explicit):
        return url
    raise fail(
        f"no DOM database at {path.resolve()} (DOM_HOME is "
        f"{'set to ' + str(s.dom_home) if explicit else 'not set: .dom in the current folder'}). "
        "Run `dom` from the folder where `dom dev` / `make run` ran, or point it at the "
        "database: DOM_HOME=/path/to/.dom or DOM_DATABASE_URL=sqlite+aiosqlite:////path/dom.db "
        "(`dom setup` creates one).",
        ExitCode.UNAVAILABLE,
    )


def configure_logging() -> None:
    """DOM_LOG_LEVEL and DOM_LOG_FORMAT (text or json), the same in every process; per-request
    lines of the HTTP clients only at DEBUG (workers/observability/logs.py)."""
    from workers.observability.logs import configure_logging as configure

    configure()
