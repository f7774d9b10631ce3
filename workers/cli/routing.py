"""`dom route` and `dom bench routing`: the routing engine from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)


def _console() -> Console:
    console = Console()
    # Piped output has no width; 120 columns keeps the tables readable in files and CI logs.
    return console if console.is_terminal else Console(width=120)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


def route(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario JSON (nodes, skus, inventory, rates, policy, order).")
    ],
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy", "-s", help="optimal, priority, distance, shopify, fewest-splits."
        ),
    ] = "optimal",
    explain: Annotated[
        bool, typer.Option("--explain", help="Show candidates, exclusions and alternatives.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Plan which nodes ship which units of the scenario's order, and say why."""
    from dom_workflows.routing import RoutingError, load_scenario, plan_route

    try:
        plan = plan_route(load_scenario(scenario), strategy)
    except RoutingError as exc:
        raise _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(plan.model_dump(mode="json"), indent=2))
        return
    from workers.cli.routing_render import render_plan

    render_plan(_console(), plan, explain=explain)


def bench_routing(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Synthetic orders.")] = 1000,
    nodes: Annotated[
        int, typer.Option("--nodes", min=2, help="Nodes in the synthetic network.")
    ] = 50,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed; same seed, same network and orders.")
    ] = 7,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the results here.")
    ] = None,
    balance: Annotated[
        float,
        typer.Option(
            "--balance",
            min=0,
            help="Dollars per shipment per 100% node utilisation for the balancing run "
            "(0 skips the capacity day).",
        ),
    ] = 5.0,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Instead: route each order alone against shared stock, then re-plan release "
            "windows jointly; compare splits, cost and promises.",
        ),
    ] = False,
    window: Annotated[
        int, typer.Option("--window", min=0, help="With --batch: orders per window (0 = all).")
    ] = 0,
    shadow: Annotated[
        Path | None,
        typer.Option(
            "--shadow",
            help="Instead: plan every order under this candidate policy too (as a shadow "
            "policy) and print p50/p99 of the live plan alone vs live + shadow.",
        ),
    ] = None,
) -> None:
    """Run every routing strategy on the same synthetic orders and compare them; then route the
    orders as one day against daily node capacity, without and with load balancing."""
    from decimal import Decimal

    if shadow is not None:
        from workers.cli.routing_shadow import bench_shadow

        bench_shadow(_console(), orders, nodes, seed, shadow, json_file)
        return
    if batch:
        from workers.cli.routing_batch import bench_batch

        bench_batch(_console(), orders, nodes, seed, window, json_file)
        return

    from workers.bench.routing import (
        STRATEGIES,
        as_dicts,
        balance_dicts,
        run_balance_bench,
        run_bench,
    )
    from workers.cli.progress import progress

    with progress() as bar:
        task = bar.add_task("routing with every strategy", total=orders * len(STRATEGIES))
        stats = run_bench(orders, nodes, seed, tick=lambda: bar.advance(task))
    table = Table(title=f"routing bench: {orders} orders, {nodes} nodes, seed {seed}")
    for col in (
        "strategy",
        "mean cost",
        "vs distance",
        "split rate",
        "transit days",
        "promise hit",
        "backorders",
        "p50 ms",
        "p99 ms",
    ):
        table.add_column(col, justify="left" if col == "strategy" else "right", no_wrap=True)
    ref = next((s for s in stats if s.strategy == "distance"), stats[0])
    for s in stats:
        table.add_row(
            s.strategy,
            f"${s.mean_cost:,.2f}",
            f"{(s.mean_cost / ref.mean_cost - 1) * 100:+.1f}%",
            f"{s.split_rate:.1%}",
            f"{s.mean_transit_days:.2f}",
            f"{s.promise_hit_rate:.1%}",
            f"{s.backorder_rate:.2%}",
            f"{s.p50_ms:.2f}",
            f"{s.p99_ms:.2f}",
        )
    _console().print(table)
    payload: dict[str, object] = {
        "orders": orders,
        "nodes": nodes,
        "seed": seed,
        "strategies": as_dicts(stats),
    }
    if balance > 0:
        with progress() as bar:
            task = bar.add_task("one day against capacity", total=2 * orders)
            days = run_balance_bench(
                orders, nodes, seed, Decimal(str(balance)), tick=lambda: bar.advance(task)
            )
        day = Table(
            title=f"one day against daily capacity ({days[0].daily_limit} orders per node), "
            "optimal, orders in sequence"
        )
        for col in ("balancing", "mean cost", "max util", "p90 util", "nodes full",
                    "orders meeting a full node", "backorders"):  # fmt: skip
            day.add_column(col, justify="left" if col == "balancing" else "right", no_wrap=True)
        for d in days:
            day.add_row(
                f"${d.balance_per_utilisation:.2f}/util" if d.balance_per_utilisation else "off",
                f"${d.mean_cost:,.2f}",
                f"{d.max_utilisation:.0%}",
                f"{d.p90_utilisation:.0%}",
                str(d.nodes_full),
                str(d.orders_meeting_full),
                f"{d.backorder_rate:.2%}",
            )
        _console().print(day)
        payload["capacity_day"] = balance_dicts(days)
    if json_file is not None:
        json_file.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


# Options the stack benchmarks share.
FiguresFile = Annotated[Path | None, typer.Option("--json", help="Also write the figures here.")]
KeepTempDir = Annotated[bool, typer.Option("--keep", help="Keep the temp dir (logs, databases).")]


def bench_e2e(
    orders: Annotated[
        int, typer.Option("--orders", min=1, help="Orders (and bare workflows).")
    ] = 200,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Orders in flight at once (closed loop).")
    ] = 20,
    warmup: Annotated[
        int, typer.Option("--warmup", min=0, help="Uncounted warm-up runs of each kind.")
    ] = 5,
    json_file: FiguresFile = None,
    keep: KeepTempDir = False,
) -> None:
    """N orders through the real path (API -> worker -> simulated partners -> signed webhooks ->
    API -> signals) next to N bare Temporal workflows, on a dev server with SQLite files."""
    from workers.bench.e2e import E2EOptions, main

    code = main(E2EOptions(orders, concurrency, warmup, json_file, keep))
    if code:
        raise typer.Exit(code)


def bench_crash(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Orders to submit.")] = 200,
    kills: Annotated[
        int, typer.Option("--kills", min=0, help="Times the worker is killed with SIGKILL.")
    ] = 10,
    server_kill: Annotated[
        int,
        typer.Option("--server-kill", min=0, help="Times the dev server is killed and restarted."),
    ] = 1,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the kill moments and hash seeds.")
    ] = 7,
    rate: Annotated[
        float, typer.Option("--rate", min=0.1, help="Orders submitted per second.")
    ] = 5.0,
    settle: Annotated[
        float, typer.Option("--settle", min=1, help="Seconds orders may take to close after.")
    ] = 300.0,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate",
            min=0,
            max=1,
            help="Share of partner calls answered 500 (half after their effect).",
        ),
    ] = 0.0,
    json_file: FiguresFile = None,
    keep: KeepTempDir = False,
) -> None:
    """Orders through the full stack while the worker is SIGKILLed and the dev server killed and
    restarted (SQLite), partners failing `--fail-rate` of calls; then every order is audited
    (completed or stuck, workflow task failures, units still reserved after close, ledger
    invariants) and `dom reconcile --dry-run` compares the partners' records with the DOM. Exit
    code 1 when an order is stuck, an invariant is violated or a divergence is found."""
    from workers.bench.crash import CrashOptions, main

    opts = CrashOptions(
        orders=orders,
        kills=kills,
        server_kills=server_kill,
        seed=seed,
        rate=rate,
        fail_rate=fail_rate,
        settle_s=settle,
        json_file=json_file,
        keep=keep,
    )
    code = main(opts)
    if code:
        raise typer.Exit(code)


def bench_promise(
    rate: Annotated[
        float, typer.Option("--rate", min=1, help="Promise requests per second.")
    ] = 200.0,
    seconds: Annotated[
        float, typer.Option("--seconds", min=1, help="Length of each phase.")
    ] = 10.0,
    carts: Annotated[int, typer.Option("--carts", min=1, help="Distinct carts asked.")] = 200,
    pairs: Annotated[
        int, typer.Option("--pairs", min=0, help="Promise -> order pairs for the agreement.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the carts.")] = 7,
    api_workers: Annotated[
        int, typer.Option("--api-workers", min=1, help="API processes (`dom api --workers`).")
    ] = 2,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="DOM database (default: a SQLite file in the temp dir)."
        ),
    ] = None,
    json_file: FiguresFile = None,
    keep: KeepTempDir = False,
) -> None:
    """Promise latency over HTTP at a fixed rate (cached and uncached p50/p99) and the share of
    orders, placed right after their promise, that take the promised plan. Exit code 2 when a
    target is missed."""
    from workers.bench.promise import PromiseBenchOptions, main

    code = main(
        PromiseBenchOptions(
            rate, seconds, carts, pairs, seed, api_workers, database_url, json_file, keep
        )
    )
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `route` and `bench routing` to the `dom` app."""
    app.command("route")(route)
    bench = typer.Typer(help="Benchmarks.", no_args_is_help=True)
    bench.command("routing")(bench_routing)
    bench.command("e2e")(bench_e2e)
    bench.command("crash")(bench_crash)
    bench.command("promise")(bench_promise)
    app.add_typer(bench, name="bench")
