"""`dom report --html FILE`: one static page of KPI charts (plotly, embedded: opens offline).

`--sample` draws the page from a generated four-week history in a throwaway database, to see
what the report looks like before the DOM has history of its own (docs/kpis.md)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from workers.cli.common import ExitCode, console, database_url, fail, run, settings, usage


def report(
    html: Annotated[Path, typer.Option("--html", help="Write the page to this file.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Orders received since: a duration (24h, 7d, 2w) or a date; default 30d."
        ),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Draw a generated 4-week history, not the DOM's.")
    ] = False,
) -> None:
    """Write the KPI report: charts over time (by day) and by node and channel."""
    import sqlalchemy as sa

    from activities.insight.report import build
    from activities.insight.sample import seed_sample_history
    from activities.inventory.db import create_engine, migrate
    from dom_workflows.insight.window import BadSince, parse_since
    from dom_workflows.network import load_network

    now = datetime.now(UTC).replace(microsecond=0)
    try:
        start = parse_since(since or ("28d" if sample else None), now)
    except BadSince as e:
        raise usage(str(e)) from None
    if html.parent and not html.parent.exists():
        raise usage(f"--html {html}: folder {html.parent} does not exist")

    async def go(url: str) -> str:
        engine = create_engine(url)
        try:
            await migrate(engine)
            if sample:
                end = now.replace(hour=0, minute=0, second=0)
                await seed_sample_history(engine, load_network(settings().network_path), end)
                return await build(engine, end - timedelta(days=28), end)
            return await build(engine, start, now)
        finally:
            await engine.dispose()

    try:
        if sample:
            with tempfile.TemporaryDirectory() as tmp:
                page = run(go(f"sqlite+aiosqlite:///{Path(tmp) / 'sample.db'}"))
        else:
            page = run(go(database_url()))
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(
            f"cannot read the DOM database: {str(e).splitlines()[0]}", ExitCode.UNAVAILABLE
        ) from None
    try:
        html.write_text(page, encoding="utf-8")
    except OSError as e:
        raise fail(f"cannot write {html}: {e.strerror}") from None
    console.print(f"wrote {html} ({len(page) // 1024} KiB); open it in a browser")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
