"""The shadow report's arithmetic on known rows: totals, per-order delta, split and promise-met
deltas, moved orders and the node load shift; read back from shadow_plans on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.shadow.compare import Outcome
from activities.shadow.record import row_values
from activities.shadow.report import Comparison, shadow_report, summarise

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def out(cost: str, nodes: tuple[str, ...], met: bool = True, backordered: int = 0) -> Outcome:
    # Spend: the cost less a 1.00 penalty per shipment beyond the first.
    spend = Decimal(cost) - max(0, len(nodes) - 1)
    return Outcome(Decimal(cost), spend, len(nodes), backordered, met, nodes)


# Three orders under policy "cand": A moves from dallas to reno (dearer), B stops splitting
# (cheaper), C is unchanged; D the candidate cannot plan (left out of the deltas).
KNOWN = [
    ("A", out("10.00", ("wh-dallas",)), out("12.50", ("wh-reno",), met=False)),
    ("B", out("20.00", ("wh-dallas", "wh-reno")), out("15.00", ("wh-columbus",))),
    ("C", out("7.00", ("wh-columbus",)), out("7.00", ("wh-columbus",))),
    ("D", out("9.00", ("wh-dallas",)), "order line 1: unknown SKU 'X'"),
]


def test_report_arithmetic_on_known_comparisons() -> None:
    (p,) = summarise(Comparison(o, "cand", "USD", live, shadow) for o, live, shadow in KNOWN)
    assert (p.orders, p.unplanned) == (3, 1)
    assert p.live_cost == Decimal("37.00") and p.shadow_cost == Decimal("34.50")
    assert p.cost_delta == Decimal("-2.50") and p.cost_delta_per_order == Decimal("-0.83")
    assert (p.live_spend, p.shadow_spend) == (Decimal("36.00"), Decimal("34.50"))
    assert p.spend_delta == Decimal("-1.50") and p.spend_delta_per_order == Decimal("-0.50")
    assert (p.live_split_orders, p.shadow_split_orders, p.split_delta) == (1, 0, -1)
    assert (p.live_shipments, p.shadow_shipments) == (4, 3)
    assert (p.live_promise_met, p.shadow_promise_met, p.promise_met_delta) == (3, 2, -1)
    assert (p.moved_orders, p.moved) == (2, ["A", "B"])
    load = {n.node: (n.live_orders, n.shadow_orders, n.delta) for n in p.node_load}
    # Dallas loses A and B, Columbus gains B; Reno loses B and gains A (no shift: not listed).
    assert load == {"wh-dallas": (2, 0, -2), "wh-columbus": (1, 2, 1)}


def test_policies_and_currencies_are_reported_apart() -> None:
    rows = [
        Comparison("A", "one", "USD", out("1.00", ("n",)), out("2.00", ("n",))),
        Comparison("B", "two", "USD", out("1.00", ("n",)), out("0.50", ("n",))),
        Comparison("C", "one", "EUR", out("3.00", ("n",)), out("3.00", ("n",))),
    ]
    got = {(p.policy, p.currency): p.cost_delta for p in summarise(rows)}
    assert got == {
        ("one", "EUR"): Decimal("0.00"),
        ("one", "USD"): Decimal("1.00"),
        ("two", "USD"): Decimal("-0.50"),
    }


async def test_report_reads_the_recorded_rows_since_and_by_policy(
    ledger_engine: AsyncEngine,
) -> None:
    async with ledger_engine.begin() as conn:
        for k, (order_id, live, shadow) in enumerate(KNOWN):
            for policy in ("cand", "other"):
                await conn.execute(
                    schema.shadow_plans.insert().values(
                        order_id=order_id,
                        route_attempt=1,
                        policy=policy,
                        currency="USD",
                        created_at=T0 + timedelta(hours=k),
                        **row_values(live, shadow),
                    )
                )
    report = await shadow_report(ledger_engine, T0, "cand")
    (p,) = report.policies
    assert (p.policy, p.orders, p.unplanned, p.cost_delta) == ("cand", 3, 1, Decimal("-2.50"))
    assert p.moved == ["A", "B"] and p.promise_met_delta == -1
    later = await shadow_report(ledger_engine, T0 + timedelta(minutes=30))  # B, C, D; both
    assert {(q.policy, q.orders, q.cost_delta) for q in later.policies} == {
        ("cand", 2, Decimal("-5.00")),
        ("other", 2, Decimal("-5.00")),
    }
