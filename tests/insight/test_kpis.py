"""KPI arithmetic on a small history whose every figure is known, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.insight import kpis
from dom_workflows.insight.window import BadSince, parse_since
from tests.support.insight import SINCE, UNTIL, known_history, usd


async def test_every_kpi_of_a_known_history(ledger_engine: AsyncEngine) -> None:
    await known_history(ledger_engine)
    report = await kpis.report(ledger_engine, SINCE, UNTIL, None)
    [total] = report.total
    assert report.rows == report.total
    assert total.orders == 4  # E is older than the window
    assert total.shipments == 4  # A1, B1, B3, D1: the rejected and the cancelled cost nothing
    assert total.split_rate == 0.25  # B
    assert total.shipments_per_order == 1.0
    assert total.fulfilment_cost == usd("39.00")  # 12 + 10 + 10 + 7
    assert total.cost_per_order == usd("9.75")
    assert total.on_time_ship == round(2 / 3, 4)  # A1, B3 of A1, B1, B3
    assert total.on_time_delivery == round(2 / 3, 4)  # B1 came on day 6, promised day 4
    assert total.rejection_rate == round(1 / 6, 4)
    assert total.sla_breaches == 2  # B1 shipped late, D1 still open past ship_by
    assert total.backorder_rate == 0.25  # C
    assert total.cancellation_rate == 0.25  # C
    assert total.return_rate == 0.25  # B
    assert total.net_sales == usd("380.00")  # 100 + 200 + (50 - 50) + 80
    assert total.gross_margin == usd("341.00")
    assert total.gross_margin_rate == round(341 / 380, 4)
    assert total.routing_savings == usd("7.00")  # baselines 15 + 20 + 14 + 7, chosen 12 + 30 + 7
    assert total.routing_savings_rate == round(7 / 56, 4)


async def test_kpis_by_node_channel_day_and_sku(ledger_engine: AsyncEngine) -> None:
    await known_history(ledger_engine)
    by_node = {r.group: r for r in (await kpis.report(ledger_engine, SINCE, UNTIL, "node")).rows}
    assert sorted(by_node) == ["store-x", "wh-columbus", "wh-dallas", "wh-reno"]
    dallas = by_node["wh-dallas"]
    assert (dallas.orders, dallas.shipments, dallas.sla_breaches) == (3, 2, 1)  # A, C, D
    assert dallas.fulfilment_cost == usd("19.00") and dallas.rejection_rate == 0.0
    assert by_node["store-x"].rejection_rate == 1.0 and by_node["store-x"].shipments == 0
    assert by_node["wh-reno"].on_time_ship == 0.0 and by_node["wh-columbus"].on_time_ship == 1.0

    by_channel = {
        r.group: r for r in (await kpis.report(ledger_engine, SINCE, UNTIL, "channel")).rows
    }
    assert by_channel["web"].orders == 2 and by_channel["marketplace"].orders == 2
    assert by_channel["marketplace"].cancellation_rate == 0.5
    assert by_channel["web"].net_sales == usd("300.00")

    by_day = {
        r.group: r.orders for r in (await kpis.report(ledger_engine, SINCE, UNTIL, "day")).rows
    }
    assert by_day == {"2026-03-02": 2, "2026-03-03": 2}

    by_sku = {r.group: r for r in (await kpis.report(ledger_engine, SINCE, UNTIL, "sku")).rows}
    assert by_sku["TENT-2P"].orders == 1 and by_sku["BOOT-HIKE-9"].orders == 3


async def test_an_unknown_grouping_is_refused(ledger_engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="choose one of node, channel, day, sku"):
        await kpis.report(ledger_engine, SINCE, UNTIL, "colour")


def test_since_takes_durations_dates_and_times() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-03-01", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_since(None, now) == now - timedelta(days=30)
    with pytest.raises(BadSince, match="neither a duration"):
        parse_since("last tuesday", now)
