"""Replenishment from a generated shipping history with known demand, on SQLite and PostgreSQL:
constant demand gives its rate and zero spread; Poisson demand its mean and sqrt(mean) within
tolerance; the reorder point, safety stock and quantity follow the formulas."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.replenishment import ReplenishmentParams, Suggestion, replenishment
from tests.support.alerts import set_available

NOW = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)


async def ship_daily(engine: AsyncEngine, node: str, sku: str, per_day: list[int]) -> None:
    """One day's units leave in two shipments (consume movements), the last day ending now."""
    rows = []
    for i, units in enumerate(reversed(per_day)):
        day = NOW - timedelta(days=i + 1)
        for part, at in ((units // 2, day + timedelta(hours=3)), (units - units // 2, day)):
            if part:
                rows.append(
                    {"at": at + timedelta(hours=2), "node_id": node, "sku": sku,
                     "kind": "consume", "on_hand_delta": -part, "reserved_delta": -part}
                )  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(schema.movements.insert(), rows)


async def report_for(engine: AsyncEngine, **params: object) -> Suggestion:
    p = ReplenishmentParams.model_validate({"sku": "JKT-RAIN-L", "node": "wh-reno", **params})
    [one] = (await replenishment(engine, NOW, p)).suggestions
    return one


async def test_constant_demand_gives_its_rate_and_no_spread(ledger_engine: AsyncEngine) -> None:
    await ship_daily(ledger_engine, "wh-reno", "JKT-RAIN-L", [10] * 28)
    await ship_daily(ledger_engine, "wh-dallas", "JKT-RAIN-L", [99] * 28)  # another node
    await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", 50)
    s = await report_for(ledger_engine, window_days=28, lead_days=7, cover_days=14)
    assert (s.velocity, s.sigma_daily, s.safety_stock) == (10, 0, 0)
    assert s.days_of_cover == 5
    assert s.reorder_point == 70 and s.reorder
    assert s.order_up_to == 210 and s.suggested_qty == 160


async def test_poisson_demand_within_tolerance_and_safety_stock_from_the_service_level(
    ledger_engine: AsyncEngine,
) -> None:
    rng = random.Random(11)
    mean = 6.0

    def poisson() -> int:  # Knuth: exact Poisson draws
        limit, k, prod = math.exp(-mean), 0, rng.random()
        while prod > limit:
            k += 1
            prod *= rng.random()
        return k

    demand = [poisson() for _ in range(90)]
    await ship_daily(ledger_engine, "wh-reno", "JKT-RAIN-L", demand)
    await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", 500)
    s = await report_for(ledger_engine, window_days=90, lead_days=4, service_level=0.95)
    assert s.velocity == pytest.approx(mean, rel=0.1)
    assert s.sigma_daily == pytest.approx(math.sqrt(mean), rel=0.2)
    # Exactly the formula on the generated history.
    assert s.velocity == pytest.approx(statistics.fmean(demand), abs=1e-4)
    z = statistics.NormalDist().inv_cdf(0.95)
    safety = z * statistics.stdev(demand) * 2  # sqrt(4 days)
    assert s.safety_stock == pytest.approx(safety, abs=0.01)
    assert not s.reorder and s.suggested_qty == 0
    higher = await report_for(ledger_engine, window_days=90, lead_days=4, service_level=0.99)
    assert higher.safety_stock > s.safety_stock


async def test_open_inbound_counts_as_on_order_and_no_sales_means_no_suggestion(
    ledger_engine: AsyncEngine,
) -> None:
    await ship_daily(ledger_engine, "wh-reno", "JKT-RAIN-L", [10] * 28)
    await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", 20)
    async with ledger_engine.begin() as conn:
        await conn.execute(
            schema.inbound_supply.insert().values(
                id="PO-1", kind="po", node_id="wh-reno", sku="JKT-RAIN-L", qty=50,
                allocated=10, received=0, expected_at=NOW + timedelta(days=3), status="open",
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
    s = await report_for(ledger_engine)
    # position 20 + 40 = 60 <= reorder point 70: order up to 210
    assert s.on_order == 40 and s.suggested_qty == 150
    quiet = await report_for(ledger_engine, sku="BOOT-HIKE-9")
    assert quiet.velocity == 0 and quiet.days_of_cover is None and not quiet.reorder


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="service_level"):
        ReplenishmentParams(service_level=1.5)
    with pytest.raises(ValueError, match="window_days"):
        ReplenishmentParams(window_days=1)
