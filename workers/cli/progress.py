"""Progress bars for the long commands (`dom setup`, seeding, `dom bench ...`).

They draw on stderr, so stdout stays the command's result (JSON, tables); they are transient
(gone when done) and silent without a terminal, so logs and piped output carry no bar frames."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

_stderr = Console(stderr=True)


def progress(console: Console | None = None) -> Progress:
    """A bar with the step's name, done/total and the time so far; use as a context manager:
    `with progress() as p: task = p.add_task("seeding", total=n); ...; p.advance(task)`."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or _stderr,
        transient=True,
    )
