"""The one error handler of every `dom` command: an exception a command did not handle itself
becomes a one-line message and an exit code (docs/cli.md), never a Python traceback.

The exception classes are matched by where they come from, importing nothing: a command that
never touched Temporal or SQLAlchemy must not load them just to handle its error."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from workers.cli.common import ExitCode, _overrides, err_console, first_line, settings

HOW_TO_START = "start it with `make run` or `dom dev`, or point --address / TEMPORAL_ADDRESS at it"


def _named(e: BaseException, *names: str) -> bool:
    return any(cls.__name__ in names for cls in type(e).__mro__)


def _from(e: BaseException, *modules: str) -> bool:
    return any(cls.__module__.split(".")[0] in modules for cls in type(e).__mro__)


def _temporal() -> str:
    s = settings()
    return f"Temporal at {s.temporal_address} (namespace {s.temporal_namespace})"


def explain(e: BaseException) -> tuple[str, ExitCode]:
    """What to tell the user about `e`, and the exit code."""
    text = first_line(e)
    if _named(e, "OrderNotFound", "OrderMissing", "ReturnNotFound", "UnknownNode"):
        return text, ExitCode.NOT_FOUND
    if isinstance(e, RuntimeError) and text.startswith("Failed client connect"):
        # temporalio's connect error; the rest of it is the transport's debug text.
        return f"cannot reach {_temporal()}: {HOW_TO_START}", ExitCode.UNAVAILABLE
    if _named(e, "RPCError"):
        status = getattr(getattr(e, "status", None), "name", "")
        message = getattr(e, "message", text)
        if status in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
            return f"cannot reach {_temporal()}: {message}; {HOW_TO_START}", ExitCode.UNAVAILABLE
        if status == "NOT_FOUND":
            return f"{_temporal()}: {message}", ExitCode.NOT_FOUND
        return f"{_temporal()} refused: {message}", ExitCode.FAILED
    if _from(e, "sqlalchemy") or isinstance(e, ConnectionError):
        url = settings().database_url
        return f"cannot use the DOM database at {url}: {text}", ExitCode.UNAVAILABLE
    return (
        f"unexpected {type(e).__name__}: {text} (DOM_DEBUG=1 shows the traceback)",
        ExitCode.FAILED,
    )


class DomGroup(TyperGroup):
    """The root command group: every command runs inside its invoke, so this is the one place
    where what a command leaves unhandled is turned into a message and an exit code. It also
    runs under typer's CliRunner, so in-process tests see the same codes as a shell."""

    def invoke(self, ctx: Any) -> Any:
        _overrides.clear()  # --address / --namespace apply to one invocation only
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, SystemExit):
            raise  # typer's own: usage errors (exit 2), typer.Exit from the commands
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except Exception as e:
            if os.environ.get("DOM_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            message, code = explain(e)
            err_console.print(f"[red]error:[/red] {message}", highlight=False)
            raise typer.Exit(int(code)) from None
