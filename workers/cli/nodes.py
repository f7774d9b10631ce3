"""`dom node list|show|set` and `dom holiday add|remove|list`: live node settings (calendar, daily
capacity) and the holiday calendar, straight in the DOM database. A change applies to the next
routing and promise; no process restarts."""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from workers.cli.common import (
    console,
    database_url,
    fail,
    not_found,
    print_json,
    run,
    settings,
    usage,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from activities.inventory.capacity import NodeStatus
    from activities.inventory.node_settings import Holiday

T = TypeVar("T")

node_app = typer.Typer(
    help="Live node settings: calendar and daily capacity.", no_args_is_help=True
)
holiday_app = typer.Typer(
    help="The holiday calendar (network-wide or per node).", no_args_is_help=True
)


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _with_db(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on the migrated DOM database that knows the network (seeding only adds what
    is missing: live settings and stock are never overwritten)."""
    import sqlalchemy as sa

    from activities.inventory.db import create_engine, migrate, seed_network
    from activities.inventory.node_settings import InvalidSettings, UnknownNode
    from dom_workflows.network import load_network

    url = database_url(create=True)

    async def go() -> T:
        s = settings()
        engine = create_engine(url)
        try:
            await migrate(engine)
            await seed_network(engine, load_network(s.network_path))
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except UnknownNode as e:
        raise not_found(str(e)) from None
    except InvalidSettings as e:
        raise fail(str(e)) from None
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(f"cannot use the DOM database: {str(e).splitlines()[0]}") from None


async def _statuses(engine: AsyncEngine) -> list[NodeStatus]:
    from activities.inventory import capacity

    async with engine.connect() as conn:
        return await capacity.node_status(conn, datetime.now(UTC))


def _limit(s: NodeStatus) -> str:
    limit = s.settings.capacity_limit
    return "unlimited" if limit is None else f"{limit} {s.settings.capacity_unit}"


def _today(s: NodeStatus) -> str:
    c = s.capacity
    text = f"{c.used}/{'-' if c.limit is None else c.limit} {c.unit}"
    return f"[red]{text} full[/red]" if c.full else text


@node_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every node: calendar, capacity limit and today's usage (in the node's local day)."""
    statuses = _with_db(_statuses)
    if as_json:
        print_json([s.model_dump(mode="json") for s in statuses])
        return
    table = Table(
        "node", "timezone", "cutoff", "handling", "working days", "capacity", "today", "changed by",
        title="Nodes",
    )  # fmt: skip
    for s in statuses:
        st = s.settings
        table.add_row(
            s.node_id,
            st.timezone,
            st.cutoff,
            f"{st.handling_days}d",
            ",".join(st.working_days),
            _limit(s),
            _today(s),
            st.updated_by,
        )
    console.print(table)


@node_app.command("show")
def show_cmd(node: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One node's settings, today's usage and the holidays that apply to it."""
    found = [s for s in _with_db(_statuses) if s.node_id == node]
    if not found:
        raise not_found(f"unknown node {node!r}")
    s = found[0]
    if as_json:
        print_json(s)
        return
    st, c = s.settings, s.capacity
    table = Table("setting", "value", title=f"{s.node_id} ({s.type}, {s.name})")
    table.add_row("timezone", st.timezone)
    table.add_row("cutoff", f"{st.cutoff} local")
    table.add_row("handling days", str(st.handling_days))
    table.add_row("working days", ",".join(st.working_days))
    table.add_row("capacity", _limit(s))
    table.add_row(f"today ({c.day})", f"{c.orders} orders, {c.units} units; {c.note}")
    table.add_row("holidays", ", ".join(d.isoformat() for d in st.holidays) or "none")
    changed = st.updated_at.isoformat(timespec="seconds") if st.updated_at else "?"
    table.add_row("changed", f"{changed} by {st.updated_by or '?'}")
    console.print(table)


@node_app.command("set")
def set_cmd(
    node: str,
    timezone: str | None = typer.Option(None, help="IANA zone, e.g. America/Chicago."),
    cutoff: str | None = typer.Option(None, help="Local carrier cut-off, HH:MM."),
    handling_days: int | None = typer.Option(None, min=0, help="Working days before shipping."),
    working_days: str | None = typer.Option(None, help="Comma-separated: mon,tue,wed,thu,fri."),
    capacity_limit: int | None = typer.Option(
        None, "--capacity", min=0, help="Daily limit (with --unit; default orders)."
    ),
    unit: str | None = typer.Option(None, help="What --capacity counts: orders or units."),
    unlimited: bool = typer.Option(False, "--unlimited", help="Remove the daily limit."),
    by: str | None = typer.Option(None, "--by", help="Who is changing it (default cli:<user>)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change a node's settings live, e.g. `dom node set store-nyc --capacity 120 --unit orders
    --cutoff 14:00`. Options left out stay as they are."""
    from activities.inventory import node_settings
    from activities.inventory.node_settings import InvalidSettings

    if unlimited and (capacity_limit is not None or unit is not None):
        raise usage("--unlimited removes the limit: give it without --capacity/--unit")
    changes: dict[str, Any] = {}
    if timezone is not None:
        changes["timezone"] = timezone
    if cutoff is not None:
        changes["cutoff"] = cutoff
    if handling_days is not None:
        changes["handling_days"] = handling_days
    if working_days is not None:
        changes["working_days"] = [d.strip().lower() for d in working_days.split(",") if d.strip()]
    if unlimited:
        changes["capacity"] = None
    if not changes and capacity_limit is None and unit is None:
        raise usage("nothing to change: give --timezone, --cutoff, --handling-days, "
                   "--working-days, --capacity/--unit or --unlimited")  # fmt: skip

    async def work(engine: AsyncEngine) -> NodeStatus:
        if capacity_limit is not None or unit is not None:
            async with engine.connect() as conn:
                current = await node_settings.node_settings_of(conn, node)
            limit = capacity_limit if capacity_limit is not None else current.capacity_limit
            if limit is None:
                raise InvalidSettings(f"{node} has no limit: give --capacity with --unit")
            changes["capacity"] = {"limit": limit, "unit": unit or current.capacity_unit}
        await node_settings.update_node_settings(engine, node, changes, _who(by))
        return next(s for s in await _statuses(engine) if s.node_id == node)

    s = _with_db(work)
    if as_json:
        print_json(s)
        return
    st = s.settings
    console.print(
        f"{s.node_id}: {st.timezone}, cutoff {st.cutoff}, handling {st.handling_days}d, "
        f"{','.join(st.working_days)}, capacity {_limit(s)} (today {s.capacity.note}); "
        f"changed by {st.updated_by}"
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise usage(f"not a date: {text!r} (YYYY-MM-DD)") from None


@holiday_app.command("add")
def holiday_add(
    day: str = typer.Argument(..., help="YYYY-MM-DD"),
    node: str | None = typer.Option(None, help="Only this node; default the whole network."),
    name: str = typer.Option("", help="What the day is, e.g. Thanksgiving."),
    by: str | None = typer.Option(None, "--by", help="Who is adding it (default cli:<user>)."),
) -> None:
    """Make a day a holiday (nobody ships; network-wide days stop the carriers too)."""
    from activities.inventory import node_settings

    when = _day(day)
    holiday, created = _with_db(
        lambda engine: node_settings.add_holiday(engine, when, node, name, _who(by))
    )
    where = holiday.node_id or "the whole network"
    console.print(f"{when.isoformat()} {'added' if created else 'renamed'} for {where}")


@holiday_app.command("remove")
def holiday_remove(
    day: str = typer.Argument(..., help="YYYY-MM-DD"),
    node: str | None = typer.Option(None, help="The node's own holiday; default network-wide."),
    by: str | None = typer.Option(None, "--by", help="Who is removing it (default cli:<user>)."),
) -> None:
    """Remove a holiday."""
    from activities.inventory import node_settings

    when = _day(day)
    removed = _with_db(lambda engine: node_settings.remove_holiday(engine, when, node, _who(by)))
    where = node or "the whole network"
    if not removed:
        raise not_found(f"{when.isoformat()} is not a holiday of {where}")
    console.print(f"{when.isoformat()} removed for {where}")


@holiday_app.command("list")
def holiday_list(
    node: str | None = typer.Option(None, help="Those that apply to this node."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every holiday, or those that apply to one node."""
    from activities.inventory import node_settings

    async def work(engine: AsyncEngine) -> list[Holiday]:
        async with engine.connect() as conn:
            return await node_settings.list_holidays(conn, node)

    rows = _with_db(work)
    if as_json:
        print_json([h.model_dump(mode="json") for h in rows])
        return
    table = Table("day", "applies to", "name", title="Holidays")
    for h in rows:
        table.add_row(h.day.isoformat(), h.node_id or "whole network", h.name)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")
    app.add_typer(holiday_app, name="holiday")
