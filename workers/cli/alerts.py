"""`dom alerts`: the open alerts (and their history), the rules, and changing a rule (applies at
the next evaluation, no restart). Heavy imports stay inside the commands (fast `dom --help`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.table import Table

from workers.cli.common import (
    Address,
    ExitCode,
    Namespace,
    console,
    database_url,
    fail,
    not_found,
    print_json,
    run,
    usage,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dom_workflows.alerts.models import Alert

T = TypeVar("T")
STATUSES = ("open", "resolved", "all")
alerts_app = typer.Typer(
    help="Alerts: open ones, history, rules (docs/alerts.md).", invoke_without_command=True
)


def _with_engine(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    import sqlalchemy as sa

    from activities.inventory.db import create_engine, migrate

    url = database_url()

    async def go() -> T:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(
            f"cannot read the DOM database: {str(e).splitlines()[0]}", ExitCode.UNAVAILABLE
        ) from None


def render_alerts(alerts: list[Alert], title: str) -> Table:
    table = Table(title=title)
    for column in (
        "status",
        "severity",
        "rule",
        "subject",
        "summary",
        "opened",
        "last seen / resolved",
    ):
        table.add_column(column)
    for a in alerts:
        style = "red" if a.status == "open" and a.severity == "critical" else None
        end = a.resolved_at if a.resolved_at is not None else a.last_seen_at
        table.add_row(
            a.status,
            a.severity,
            a.rule_id,
            a.subject,
            a.summary,
            f"{a.opened_at:%Y-%m-%d %H:%M}",
            f"{end:%Y-%m-%d %H:%M}",
            style=style,
        )
    return table


@alerts_app.callback()
def alerts_default(ctx: typer.Context) -> None:
    """With no command: the open alerts."""
    if ctx.invoked_subcommand is None:
        list_alerts()


@alerts_app.command("list")
def list_alerts(
    status: Annotated[str, typer.Option(help="open, resolved (the history) or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Alerts, newest first (times in UTC)."""
    from activities.alerts import store

    if status not in STATUSES:
        raise usage(f"--status {status!r}: choose one of {', '.join(STATUSES)}")
    wanted: Literal["open", "resolved"] | None = (
        None if status == "all" else "open" if status == "open" else "resolved"
    )
    found = _with_engine(lambda e: store.list_alerts(e, wanted, limit))
    if as_json:
        print_json([a.model_dump(mode="json") for a in found])
        return
    if not found:
        console.print(f"no {'' if status == 'all' else status + ' '}alerts")
        return
    console.print(render_alerts(found, f"Alerts ({status})"))


def _params(rule: Any) -> str:
    common = {"id", "kind", "enabled", "severity", "clear_after", "description"}
    spec = rule.model_dump(mode="json", exclude=common)
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in spec.items())


@alerts_app.command("rules")
def rules(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every alert rule and its parameters."""
    from activities.alerts import store

    found = _with_engine(store.load_rules)
    if as_json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    table = Table(title="Alert rules")
    for column in ("id", "kind", "on", "severity", "clear after", "parameters"):
        table.add_column(column)
    for r in found:
        on = "yes" if r.enabled else "[dim]no[/dim]"
        table.add_row(r.id, r.kind, on, r.severity, str(r.clear_after), _params(r))
    console.print(table)


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # a bare word: a string


@alerts_app.command("set")
def set_rule(
    rule_id: str,
    changes: Annotated[
        list[str], typer.Argument(help="field=value, e.g. threshold=5 enabled=false")
    ],
) -> None:
    """Change fields of a rule (values are JSON: 5, false, "text", ["a","b"], {...})."""
    from pydantic import ValidationError

    from activities.alerts import store
    from dom_workflows.alerts.rules import RULE

    update: dict[str, Any] = {}
    for change in changes:
        name, sep, raw = change.partition("=")
        if not sep or not name:
            raise usage(f"{change!r}: write field=value")
        update[name.strip()] = _value(raw)
    if "id" in update or "kind" in update:
        raise usage("a rule's id and kind cannot change; add a new rule with `dom alerts load`")

    async def work(engine: AsyncEngine) -> Any:
        try:
            current = await store.get_rule(engine, rule_id)
        except store.UnknownRule:
            return None
        rule = RULE.validate_python({**current.model_dump(mode="json"), **update})
        await store.put_rule(engine, rule, "cli")
        return rule

    try:
        rule = _with_engine(work)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'][1:]))}: {x['msg']}" for x in e.errors())
        raise usage(f"rule {rule_id}: {problems}") from None
    if rule is None:
        raise not_found(f"no alert rule {rule_id!r} (see `dom alerts rules`)")
    console.print(f"rule {rule.id}: {_params(rule)} (applies at the next evaluation)")


@alerts_app.command("load")
def load(path: Path) -> None:
    """Create or replace the rules in a JSON file (a list of rules); all are checked first."""
    from pydantic import ValidationError

    from activities.alerts import store
    from dom_workflows.alerts.rules import parse_rules

    try:
        rules = parse_rules(json.loads(path.read_text()))
    except OSError as e:
        raise usage(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:  # JSON, validation (pydantic's ValidationError), duplicate ids
        detail = (
            "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()[:5])
            if isinstance(e, ValidationError)
            else first(e)
        )
        raise usage(f"{path}: {detail}") from None

    async def work(engine: AsyncEngine) -> int:
        for rule in rules:
            await store.put_rule(engine, rule, f"cli:{path.name}")
        return len(rules)

    console.print(f"{_with_engine(work)} rule(s) loaded from {path}")


def first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


@alerts_app.command("evaluate")
def evaluate_now(address: Address = None, namespace: Namespace = None) -> None:
    """Evaluate the rules once now (as the `dom-alerts` Schedule does) and print what changed.
    With a webhook configured, its deliveries go out with the Schedule's next run."""
    from activities.alerts import webhook
    from activities.alerts.evaluate import evaluate
    from activities.alerts.visibility import TemporalVisibility
    from activities.inventory.db import utcnow
    from workers.cli.common import settings
    from workers.client import connect

    s = settings()
    try:
        hook = webhook.from_env()
    except webhook.WebhookMisconfigured as e:
        raise usage(str(e)) from None

    async def work(engine: AsyncEngine) -> Any:
        try:
            client = await connect(s)
        except Exception as e:  # unreachable Temporal: one line, no traceback
            raise fail(
                f"cannot reach Temporal at {s.temporal_address}: {first(e)}", ExitCode.UNAVAILABLE
            ) from None
        vis = TemporalVisibility(client, s.task_queue)
        return await evaluate(engine, vis, utcnow(), deliver=hook is not None)

    result = _with_engine(work)
    for t in result.opened:
        console.print(f"[red]opened[/red]   {t.summary}")
    for t in result.resolved:
        console.print(f"[green]resolved[/green] {t.summary}")
    for err in result.errors:
        console.print(f"[yellow]rule {err.rule_id} not evaluated[/yellow]: {err.error}")
    console.print(f"{result.open_alerts} alert(s) open")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
