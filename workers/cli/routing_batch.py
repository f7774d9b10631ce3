"""`dom bench routing --batch`: per-order routing against the joint re-plan of release windows."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

# The targets for the joint re-plan against routing each order alone.
TARGET_SPLIT_REDUCTION = 40.0  # percent fewer split shipments
TARGET_COST_REDUCTION = 3.0  # percent lower cost
TARGET_SECONDS_PER_10K = 60.0


def bench_batch(
    console: Console, orders: int, nodes: int, seed: int, window: int, json_file: Path | None
) -> None:
    from workers.bench.routing import batch_dict, run_batch_bench
    from workers.cli.progress import progress

    with progress() as bar:
        task = bar.add_task("routing alone, then re-planning windows", total=orders)
        bench = run_batch_bench(
            orders, nodes, seed, window, tick=lambda done: bar.update(task, completed=done)
        )
    title = (
        f"batch re-optimisation: {orders} orders, {nodes} nodes, seed {seed}, "
        f"{'one window' if bench.window == orders else f'windows of {bench.window}'}"
    )
    table = Table(title=title)
    for col in ("run", "split orders", "split ships", "cost", "cost/order",
                "promises kept", "backordered", "seconds"):  # fmt: skip
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=True)
    for s in (bench.per_order, bench.batch):
        table.add_row(
            s.run,
            str(s.split_orders),
            str(s.split_shipments),
            f"${s.cost:,.2f}",
            f"${s.cost_per_order:,.2f}",
            f"{s.promises_kept} ({s.promises_kept / s.orders:.1%})",
            str(s.backordered_units),
            f"{s.seconds:.2f}",
        )
    console.print(table)
    per_10k = bench.replan_seconds * 10_000 / orders
    per_10k_cpu = bench.replan_cpu_seconds * 10_000 / orders
    targets = Table(title="against the targets")
    for col in ("measure", "target", "measured", "met"):
        targets.add_column(col, justify="left" if col == "measure" else "right", no_wrap=True)
    for name, target, measured, met in (
        ("split shipments", f">= {TARGET_SPLIT_REDUCTION:.0f}% fewer",
         f"{bench.split_reduction:.1f}% fewer", bench.split_reduction >= TARGET_SPLIT_REDUCTION),
        ("cost", f">= {TARGET_COST_REDUCTION:.0f}% lower", f"{bench.cost_reduction:.1f}% lower",
         bench.cost_reduction >= TARGET_COST_REDUCTION),
        ("promises broken", "0", str(bench.promises_broken), bench.promises_broken == 0),
        ("re-plan time per 10,000 orders" + ("" if orders == 10_000 else " (scaled)"),
         f"<= {TARGET_SECONDS_PER_10K:.0f} s",
         f"{per_10k:.1f} s ({per_10k_cpu:.1f} s CPU)", per_10k <= TARGET_SECONDS_PER_10K),
    ):  # fmt: skip
        targets.add_row(name, target, measured, "yes" if met else "NO")
    console.print(targets)
    avoidable = bench.per_order.split_shipments - bench.split_shipments_stock_to_itself
    if avoidable > 0:  # a window whose stock runs dry ships less, so fewer splits: no bound then
        console.print(
            f"With its window's stock to itself every order would still make "
            f"{bench.split_shipments_stock_to_itself} split shipments: of the {avoidable} "
            f"avoidable ones the batch removed {bench.avoidable_split_reduction:.1f}%.",
            highlight=False,
        )
    console.print(
        f"{bench.moves_accepted} of {bench.moves_tried} moves kept; building the orders' "
        f"problems took {bench.build_seconds:.2f} s; "
        f"{bench.promises_broken_vs_per_order_run} orders kept their promise in the per-order "
        "run and not in the batch run",
        highlight=False,
    )
    if json_file is not None:
        json_file.write_text(json.dumps(batch_dict(bench), indent=2) + "\n", encoding="utf-8")
