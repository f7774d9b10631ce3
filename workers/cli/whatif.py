"""`dom whatif`: replay recorded orders offline against a new policy (and network) and print the
deltas, in the shadow report's table (docs/shadow.md). Nothing is written anywhere."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.common import ExitCode, console, database_url, fail, print_json, run, settings
from workers.cli.common import usage as usage_error
from workers.cli.shadow import render

if TYPE_CHECKING:
    from activities.shadow.whatif import Recorded


def _recorded_since(since: str) -> list[Recorded]:
    import sqlalchemy as sa

    from activities.inventory.db import create_engine, migrate
    from activities.shadow.whatif import recorded_since
    from dom_workflows.insight.window import BadSince, parse_since

    try:
        start = parse_since(since, datetime.now(UTC))
    except BadSince as e:
        raise usage_error(str(e)) from None
    url = database_url()

    async def go() -> list[Recorded]:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await recorded_since(engine, start)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(
            f"cannot read the DOM database: {str(e).splitlines()[0]}", ExitCode.UNAVAILABLE
        ) from None


def whatif(
    policy: Annotated[Path, typer.Option("--policy", help="The new policy (YAML or JSON).")],
    orders: Annotated[
        Path | None,
        typer.Option("--orders", help="Recorded orders, one JSON snapshot per line."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Replay the decisions recorded since: a duration (7d) or a date."),
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option(help="Replay against this network file [default: the configured one]."),
    ] = None,
    base_policy: Annotated[
        Path | None,
        typer.Option(
            "--base-policy",
            help="Plans the baseline of orders without a recorded outcome (--orders files) "
            "[default: the configured policy].",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=0, help="Processes to replay with (0: one per CPU).")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replay recorded orders (their inputs and the stock they saw) against a new policy or
    network, offline, and print the deltas: cost, splits, promise met, node load."""
    from activities.shadow.report import DeltaReport, summarise
    from activities.shadow.whatif import BadOrdersFile, read_orders, replay, static_of
    from dom_workflows.network import load_network
    from dom_workflows.routing import RoutingError, load_policy

    if (orders is None) == (since is None):
        raise usage_error("give exactly one of --orders FILE or --since DATE")
    s = settings()
    for label, path in (
        ("--policy", policy),
        ("--base-policy", base_policy),
        ("--network", network),
    ):
        if path is not None and not path.is_file():
            raise usage_error(f"{label}: no file at {path}")
    try:
        new = load_policy(policy)
        base = load_policy(base_policy or s.policy_path)
    except RoutingError as e:
        raise usage_error(str(e)) from None
    network_path = network or s.network_path
    try:
        static = static_of(load_network(network_path))
    except (ValueError, OSError) as e:
        raise usage_error(f"network {network_path}: {str(e).splitlines()[0]}") from None
    started = time.perf_counter()
    if orders is not None:
        try:
            records = read_orders(orders)
        except BadOrdersFile as e:
            raise usage_error(str(e)) from None
    else:
        assert since is not None
        records = _recorded_since(since)
    result = replay(records, static, new, base, policy.stem, jobs or os.cpu_count() or 1)
    seconds = time.perf_counter() - started
    report = DeltaReport(policies=summarise(result.comparisons))
    if as_json:
        print_json(
            {
                **report.model_dump(mode="json"),
                "replayed": len(records),
                "skipped": result.skipped,
                "seconds": round(seconds, 2),
            }
        )
        return
    for table in render(report, f"What if ({len(records)} recorded orders)"):
        console.print(table)
    for line in result.skipped[:10]:
        console.print(f"[yellow]skipped[/yellow] {line}", highlight=False)
    console.print(
        f"replayed {len(records)} orders in {seconds:.1f} s"
        f" ({len(records) / seconds if seconds else 0:.0f} orders/s);"
        f" skipped {len(result.skipped)}"
    )


def register(app: typer.Typer) -> None:
    app.command("whatif")(whatif)
