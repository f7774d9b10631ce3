"""`dom bench routing --shadow FILE`: the table of what shadow planning adds to routing."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from workers.cli.common import usage


def bench_shadow(
    console: Console, orders: int, nodes: int, seed: int, shadow: Path, json_file: Path | None
) -> None:
    from dom_workflows.routing import RoutingError, load_policy
    from workers.bench.shadow import as_dict, run_shadow_bench
    from workers.cli.progress import progress

    if not shadow.is_file():
        raise usage(f"--shadow: no policy file at {shadow}")
    try:
        candidate = load_policy(shadow)
    except RoutingError as e:
        raise usage(f"--shadow {shadow}: {e}") from None
    with progress() as bar:
        task = bar.add_task("live plan, then the shadow plan", total=orders)
        result = run_shadow_bench(candidate, orders, nodes, seed, tick=lambda: bar.advance(task))
    table = Table(
        title=f"shadow planning cost: {orders} orders, {nodes} nodes, seed {seed}, "
        f"candidate {shadow.name}"
    )
    for col in ("", "p50 ms", "p99 ms"):
        table.add_column(col, justify="left" if not col else "right")
    table.add_row("live plan alone", f"{result.live_p50_ms:.3f}", f"{result.live_p99_ms:.3f}")
    table.add_row(
        "live + shadow", f"{result.with_shadow_p50_ms:.3f}", f"{result.with_shadow_p99_ms:.3f}"
    )
    ok = result.added_p99_ms <= result.target_added_p99_ms
    table.add_row(
        "added by the shadow plan",
        f"{result.added_p50_ms:.3f}",
        f"[{'green' if ok else 'red'}]{result.added_p99_ms:.3f}[/]"
        f" (target <= {result.target_added_p99_ms:g})",
    )
    table.add_row(
        "added, CPU time only",
        f"{result.added_cpu_p50_ms:.3f}",
        f"{result.added_cpu_p99_ms:.3f} (live plan alone {result.live_cpu_p99_ms:.3f})",
    )
    console.print(table)
    console.print(
        f"the candidate moves {result.moved_orders} of {orders} orders to other nodes; "
        f"cost delta ${result.cost_delta:+,.2f}"
    )
    if json_file is not None:
        json_file.write_text(json.dumps({"orders": orders, "nodes": nodes, "seed": seed,
                                         "shadow": as_dict(result)}, indent=2))  # fmt: skip
