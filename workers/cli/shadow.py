"""`dom shadow add|remove|list|report`: candidate routing policies planned beside the live one on
every routing attempt (no effect on the ledger), and the per-order deltas they recorded.

The report's table is shared with `dom whatif` (workers/cli/whatif.py): docs/shadow.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from workers.cli.common import (
    ExitCode,
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

    from activities.shadow.report import DeltaReport, PolicyDeltas

T = TypeVar("T")

shadow_app = typer.Typer(
    help="Shadow routing policies: planned on every live order, with no effect.",
    no_args_is_help=True,
)


def _with_db(work: Callable[[AsyncEngine], Awaitable[T]], *, create: bool = False) -> T:
    import sqlalchemy as sa

    from activities.inventory.db import create_engine, migrate

    url = database_url(create=create)

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
            f"cannot use the DOM database: {str(e).splitlines()[0]}", ExitCode.UNAVAILABLE
        ) from None


def add(
    name: Annotated[str, typer.Argument(help="The shadow policy's name.")],
    file: Annotated[Path, typer.Argument(help="The candidate policy (YAML or JSON).")],
) -> None:
    """Add (or replace) a shadow policy, active at once: every routing attempt from now on also
    plans under it and records the deltas."""
    from activities.shadow import policies

    if not file.is_file():
        raise usage(f"no policy file at {file}")
    try:
        policy = policies.validate(name, file)
    except policies.BadShadowPolicy as e:
        raise usage(str(e)) from None
    now = datetime.now(UTC)
    new = _with_db(lambda engine: policies.add(engine, name, policy, now), create=True)
    console.print(f"shadow policy {name} {'added' if new else 'replaced'}; active")


def remove(name: Annotated[str, typer.Argument(help="The shadow policy's name.")]) -> None:
    """Remove a shadow policy (the plans it recorded stay for the report)."""
    from activities.shadow import policies

    if not _with_db(lambda engine: policies.remove(engine, name)):
        raise not_found(f"no shadow policy named {name!r} (`dom shadow list`)")
    console.print(f"shadow policy {name} removed")


def _toggle(name: str, active: bool) -> None:
    from activities.shadow import policies

    now = datetime.now(UTC)
    if not _with_db(lambda engine: policies.set_active(engine, name, active, now)):
        raise not_found(f"no shadow policy named {name!r} (`dom shadow list`)")
    console.print(f"shadow policy {name} {'active' if active else 'paused'}")


def pause(name: Annotated[str, typer.Argument(help="The shadow policy's name.")]) -> None:
    """Stop planning under a shadow policy, keeping it."""
    _toggle(name, False)


def resume(name: Annotated[str, typer.Argument(help="The shadow policy's name.")]) -> None:
    """Plan under a paused shadow policy again."""
    _toggle(name, True)


def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The shadow policies, active or paused."""
    from activities.shadow import policies

    async def work(engine: AsyncEngine) -> list[policies.ShadowPolicy]:
        async with engine.connect() as conn:
            return await policies.listed(conn)

    found = _with_db(work)
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "active": p.active,
                    "updated_at": p.updated_at.isoformat(),
                    "policy": p.policy.model_dump(mode="json"),
                }
                for p in found
            ]
        )
        return
    table = Table(title="Shadow policies")
    for col in ("name", "active", "rules", "split penalty", "max shipments", "updated"):
        table.add_column(col)
    for p in found:
        table.add_row(
            p.name,
            "yes" if p.active else "paused",
            ", ".join(r.name for r in p.policy.rules) or "-",
            str(p.policy.split_penalty),
            str(p.policy.max_shipments),
            f"{p.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def _signed(value: object) -> str:
    text = str(value)
    return text if text.startswith("-") or text in ("0", "0.00") else f"+{text}"


def delta_cells(p: PolicyDeltas) -> list[tuple[str, str, str, str]]:
    """(measure, live, shadow, delta) rows of one policy's deltas."""
    return [
        ("orders compared", str(p.orders), str(p.orders), ""),
        ("not plannable by the candidate", "", str(p.unplanned), ""),
        (f"cost: router objective ({p.currency})", f"{p.live_cost:.2f}", f"{p.shadow_cost:.2f}",
         _signed(f"{p.cost_delta:.2f}")),
        ("cost per order", "", "", _signed(f"{p.cost_delta_per_order:.2f}")),
        (f"spend: shipping + handling ({p.currency})", f"{p.live_spend:.2f}",
         f"{p.shadow_spend:.2f}", _signed(f"{p.spend_delta:.2f}")),
        ("spend per order", "", "", _signed(f"{p.spend_delta_per_order:.2f}")),
        ("split orders", str(p.live_split_orders), str(p.shadow_split_orders),
         _signed(p.split_delta)),
        ("shipments", str(p.live_shipments), str(p.shadow_shipments),
         _signed(p.shadow_shipments - p.live_shipments)),
        ("promise met", str(p.live_promise_met), str(p.shadow_promise_met),
         _signed(p.promise_met_delta)),
        ("orders moved to other nodes", "", str(p.moved_orders), ""),
    ]  # fmt: skip


def render(report: DeltaReport, title: str) -> list[Table]:
    """Per policy: the deltas table, then the node load shift (orders per node)."""
    tables: list[Table] = []
    for p in report.policies:
        t = Table(title=f"{title}: policy {p.policy} ({p.currency})")
        for col, justify in (("", "left"), ("live", "right"), ("shadow", "right")):
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        t.add_column("delta", justify="right")
        for row in delta_cells(p):
            t.add_row(*row)
        tables.append(t)
        if p.node_load:
            load = Table(title=f"node load shift, policy {p.policy} (orders per node)")
            for col in ("node", "live", "shadow", "delta"):
                load.add_column(col, justify="left" if col == "node" else "right")
            for n in p.node_load:
                load.add_row(n.node, str(n.live_orders), str(n.shadow_orders), _signed(n.delta))
            tables.append(load)
    return tables


def report(
    since: Annotated[
        str | None,
        typer.Option(help="Decisions since: a duration (24h, 7d, 2w) or a date; default 30d."),
    ] = None,
    policy: Annotated[
        str | None, typer.Option(help="One shadow policy only.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What each shadow policy would have done: cost, split and promise-met deltas against the
    live plans, and the node load shift."""
    from activities.shadow.report import shadow_report
    from dom_workflows.insight.window import BadSince, parse_since

    try:
        start = parse_since(since, datetime.now(UTC))
    except BadSince as e:
        raise usage(str(e)) from None
    result = _with_db(lambda engine: shadow_report(engine, start, policy))
    if as_json:
        print_json(result)
        return
    if not result.policies:
        console.print(f"no shadow plans recorded since {start:%Y-%m-%d %H:%M} UTC")
        return
    for table in render(result, f"Shadow report since {start:%Y-%m-%d %H:%M} UTC"):
        console.print(table)


def sample(
    folder: Annotated[Path, typer.Argument(help="Writes orders.jsonl, network.json, policy.json.")],
    orders: Annotated[int, typer.Option("--orders", min=1, help="Synthetic orders.")] = 10000,
    nodes: Annotated[int, typer.Option("--nodes", min=2, help="Nodes in the network.")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 7,
    recorded: Annotated[
        bool,
        typer.Option(
            "--recorded/--no-recorded",
            help="Record each order's outcome under policy.json, as a live decision is recorded.",
        ),
    ] = True,
) -> None:
    """Recorded orders to try `dom whatif` on: the routing bench's synthetic network and orders,
    each with the stock of its SKUs."""
    from workers.bench.whatif import write_sample

    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "orders.jsonl", folder / "network.json", folder / "policy.json")
    n = write_sample(*paths, orders, nodes, seed, with_live=recorded)
    console.print(
        f"wrote {n} orders: dom whatif --policy NEW --orders {paths[0]} --network {paths[1]}"
        f" --base-policy {paths[2]}"
    )


def register(app: typer.Typer) -> None:
    shadow_app.command("sample")(sample)
    shadow_app.command("add")(add)
    shadow_app.command("remove")(remove)
    shadow_app.command("pause")(pause)
    shadow_app.command("resume")(resume)
    shadow_app.command("list")(list_)
    shadow_app.command("report")(report)
    app.add_typer(shadow_app, name="shadow")
