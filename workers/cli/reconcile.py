"""`dom reconcile`: compare what the partners hold with the DOM's orders and ledger, print every
divergence with its evidence, repair what is safe and escalate the rest (docs/reconciliation.md).

`--dry-run` repairs nothing; `--report` prints the newest recorded run (the daily Schedule's or
a command's) without comparing anything. Exit 0: no divergence, or all repaired; 1: something is
left for ops (escalated, or not repaired in a dry run); 2: bad flags; 4: Temporal, the database
or a partner cannot be reached."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workers.cli.common import (
    Address,
    ExitCode,
    Namespace,
    console,
    database_url,
    fail,
    first_line,
    print_json,
    run,
    settings,
    usage,
)

if TYPE_CHECKING:
    from dom_workflows.reconcile.models import ReconcileReport

DEFAULT_SINCE = "2d"


def render(report: ReconcileReport, *, evidence: bool = True) -> Table:
    title = (
        f"Reconciliation {report.run_id} ({report.trigger}) since "
        f"{report.since:%Y-%m-%d %H:%M} UTC" + (" - dry run" if report.dry_run else "")
    )
    table = Table("action", "kind", "subject", "finding", title=title, show_lines=evidence)
    if evidence:
        table.add_column("evidence")
    for f in report.findings:
        row = [f.action or "", f.kind, f.subject, f"{f.summary}\n[dim]{f.action_detail}[/dim]"]
        if evidence:
            row.append(json.dumps(f.evidence, default=str, sort_keys=True)[:600])
        table.add_row(*row)
    return table


def _summary(report: ReconcileReport) -> str:
    compared = ", ".join(f"{k} {v}" for k, v in sorted(report.compared.items()))
    return (
        f"{len(report.findings)} divergence(s): {report.count('repaired')} repaired, "
        f"{report.count('escalated')} escalated, {report.count('not-repaired')} not repaired"
        + (f" (compared: {compared})" if compared else "")
    )


def reconcile(
    since: Annotated[
        str | None,
        typer.Option(help="Partner records changed since: 90m, 24h, 2d, a date or an ISO time."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Find and print; repair nothing.")] = (
        False
    ),
    report: Annotated[
        bool, typer.Option("--report", help="Print the newest recorded run; compare nothing.")
    ] = False,
    settle: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds: partner records changed more recently are still in flight."
        ),
    ] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    address: Address = None,
    namespace: Namespace = None,
) -> None:
    """Compare nodes, the payment provider and the carrier with the DOM's orders and ledger;
    repair what is safe, escalate the rest."""
    from dom_workflows.insight.window import BadSince, parse_since

    now = datetime.now(UTC)
    try:
        start = parse_since(since or DEFAULT_SINCE, now)
    except BadSince as e:
        raise usage(str(e)) from None
    url = database_url()
    result = _read_report(url) if report else _reconcile(url, start, now, settle, dry_run)
    if result is None:
        console.print("No reconciliation has run yet: `dom reconcile` runs one.")
        return
    if as_json:
        print_json(result)
    else:
        if result.findings:
            console.print(render(result))
        else:
            console.print(
                "[green]No divergence: the DOM, its ledger and its partners agree.[/green]"
            )
        for missing in result.not_compared:
            console.print(f"not compared: {missing}")
        console.print(_summary(result))
    if result.count("escalated") or result.count("not-repaired"):
        raise typer.Exit(ExitCode.FAILED)


def _read_report(url: str) -> ReconcileReport | None:
    import sqlalchemy as sa

    from activities.inventory.db import create_engine, migrate
    from activities.reconcile.store import latest_report

    async def go() -> ReconcileReport | None:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await latest_report(engine)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(f"cannot read the DOM database: {first_line(e)}", ExitCode.UNAVAILABLE) from None


def _reconcile(
    url: str, since: datetime, now: datetime, settle: float, dry_run: bool
) -> ReconcileReport:
    import uuid
    from dataclasses import replace

    import httpx
    import sqlalchemy as sa
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError

    from activities.reconcile.reconciler import Reconciler
    from dom_workflows.reconcile.models import Divergences, FindInput, SettleInput
    from workers.client import connect
    from workers.worker import dependencies

    s = replace(settings(), database_url=url)

    async def go() -> ReconcileReport:
        try:
            client = await connect(s)
        except RuntimeError as e:  # the SDK's "failed client connect"
            raise fail(
                f"cannot reach Temporal at {s.temporal_address}: {first_line(e)}",
                ExitCode.UNAVAILABLE,
            ) from None
        async with dependencies(s) as deps:
            reconciler = Reconciler(
                client,
                deps.engine,
                deps.network,
                deps.http,
                payment_url=deps.payment_url,
                carrier_url=deps.carrier_url,
            )
            found: Divergences = await reconciler.find(
                FindInput(since=since, now=now, settle=timedelta(seconds=settle))
            )
            return await reconciler.settle(
                SettleInput(
                    run_id=f"cli-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
                    trigger="cli",
                    since=since,
                    started_at=now,
                    dry_run=dry_run,
                    found=found,
                ),
                datetime.now(UTC),
            )

    try:
        return run(go())
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(f"cannot use the DOM database: {first_line(e)}", ExitCode.UNAVAILABLE) from None
    except (ApplicationError, httpx.HTTPError, RPCError) as e:
        raise fail(f"cannot reconcile: {first_line(e)}", ExitCode.UNAVAILABLE) from None


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
