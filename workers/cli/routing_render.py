"""Human-readable rendering of a Plan with rich (used by `dom route`; the workflow never imports it)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from dom_workflows.routing.explain import money
from dom_workflows.routing.models import Plan


def render_plan(console: Console, plan: Plan, *, explain: bool = False) -> None:
    console.print(
        f"[bold]{plan.order_id}[/] via [cyan]{plan.strategy}[/]: {plan.explanation.summary}"
    )
    table = Table()
    has_adj = any(s.adjustments for s in plan.shipments)
    cols = ["node", "units", "service", "zone", "miles", "days", "lb", "shipping", "handling"]
    for col in [*cols, "adj."] if has_adj else cols:
        numeric = col in {"miles", "days", "lb", "shipping", "handling", "adj."}
        table.add_column(col, justify="right" if numeric or col == "units" else "left")
    for s in plan.shipments:
        row = [
            s.node,
            str(s.units),
            s.service,
            s.zone,
            f"{s.distance_miles:,.0f}",
            str(s.transit_days),
            str(s.billable_lb),
            money(s.shipping_cost),
            money(s.handling_cost),
        ]
        if has_adj:
            row.append(money(sum((a.amount for a in s.adjustments), start=Decimal(0))))
        table.add_row(*row)
    console.print(table)
    for s in plan.shipments:
        lines = ", ".join(
            f"{ln.qty}x {ln.sku}" + (f" (line {ln.line_id})" if ln.line_id else "")
            for ln in s.lines
        )
        console.print(f"  {s.node}: {lines}", highlight=False)
    if plan.backordered:
        console.print("backordered: " + ", ".join(f"{b.qty}x {b.sku}" for b in plan.backordered))
    b = plan.cost_breakdown
    console.print(
        f"total {money(plan.total_cost)} = shipping {money(b.shipping)} + handling {money(b.handling)}"
        f" + split {money(b.split_penalty)} + backorder {money(b.backorder_penalty)}"
        f" + rules {money(b.rule_adjustments)}",
        highlight=False,
    )
    if not explain:
        return
    ex = plan.explanation
    if ex.rules_applied:
        console.print("rules applied: " + ", ".join(ex.rules_applied))
    for note in ex.notes:
        console.print(f"note: {note}")
    cand = Table(title="candidates")
    for col in ("node", "type", "miles", "zone", "service", "days", "usable units"):
        cand.add_column(col)
    for c in ex.candidates:
        cand.add_row(
            c.node,
            c.node_type,
            f"{c.distance_miles:,.1f}",
            c.zone,
            c.service,
            str(c.transit_days),
            str(c.usable_units),
        )
    console.print(cand)
    if ex.excluded:
        exc = Table(title="excluded")
        for col in ("node", "sku", "reason"):
            exc.add_column(col)
        for e in ex.excluded:
            exc.add_row(e.node, e.sku or "(all)", e.reason)
        console.print(exc)
    if ex.alternatives:
        alt = Table(title="alternatives")
        for col in ("strategy", "total", "delta", "shipments", "nodes", "backordered"):
            alt.add_column(col)
        for a in ex.alternatives:
            alt.add_row(
                a.strategy,
                money(a.total_cost),
                ("+" if a.delta >= 0 else "") + money(a.delta),
                str(a.shipments_count),
                ", ".join(a.nodes),
                str(a.backordered_units),
            )
        console.print(alt)
