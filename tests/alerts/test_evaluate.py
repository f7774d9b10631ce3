"""The evaluator against the DOM database (SQLite and PostgreSQL), time stepped with an injected
`now`: each injected fault opens its alert within two evaluation windows (measured: the first
evaluation after the condition starts), resolves once clear for `clear_after` evaluations, does
not flap, and a clean network raises nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.alerts import store
from activities.alerts.feed_health import record_feed_failure, record_feed_ok
from activities.inventory import schema
from dom_workflows.alerts.rules import (
    AlertRule,
    FeedFailing,
    FeedSilent,
    FulfilmentOverdue,
    LowStock,
    NodeRejectionRate,
    NoOrders,
    OrderNotRouted,
    default_rules,
)
from tests.support.alerts import (
    EVERY,
    T0,
    ScriptedVisibility,
    add_outcome,
    evaluations_until_open,
    only_rules,
    open_alerts,
    rows,
    run,
    set_available,
    ship_by_status,
)

SECOND = timedelta(seconds=1)
Step = Callable[[AsyncEngine, ScriptedVisibility, datetime], Awaitable[None]]


@dataclass
class Fault:
    rule: AlertRule
    key: str
    # Injects the fault; returns when its condition starts to hold.
    inject: Callable[[AsyncEngine, ScriptedVisibility], Awaitable[datetime]]
    clear: Step


async def _not_routed(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    vis.start("STUCK-1", T0, routed=False)  # e.g. routing keeps failing
    return T0 + timedelta(minutes=10) + SECOND


async def _routed(engine: AsyncEngine, vis: ScriptedVisibility, now: datetime) -> None:
    vis.route("STUCK-1")


async def _quiet(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    vis.start("LAST-1", T0 - timedelta(minutes=30))  # then the storefront goes down
    return T0 + SECOND


async def _order_arrives(engine: AsyncEngine, vis: ScriptedVisibility, now: datetime) -> None:
    vis.start("BACK-1", now)


async def _overdue(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    await add_outcome(
        engine, "LATE-1:1:wh-dallas", "wh-dallas", "accepted",
        requested_at=T0 - timedelta(hours=2), accepted_at=T0 - timedelta(hours=1), ship_by=T0,
    )  # fmt: skip
    return T0 + SECOND


async def _shipped(engine: AsyncEngine, vis: ScriptedVisibility, now: datetime) -> None:
    await ship_by_status(engine, "LATE-1:1:wh-dallas", "shipped")


async def _rejecting(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    at = T0 - timedelta(minutes=10)
    for i in range(20):  # 8 of 20 rejected: 40% > 30%
        rejected = i < 8
        await add_outcome(
            engine, f"R{i}:1:store-nyc", "store-nyc", "rejected" if rejected else "accepted",
            requested_at=at, rejected_at=at if rejected else None,
            accepted_at=None if rejected else at,
        )  # fmt: skip
    return T0


async def _accepting(engine: AsyncEngine, vis: ScriptedVisibility, now: datetime) -> None:
    for i in range(20):  # 8 of 40: 20%
        await add_outcome(
            engine, f"A{i}-{now:%H%M%S}:1:store-nyc", "store-nyc", "accepted",
            requested_at=now - SECOND, accepted_at=now - SECOND,
        )  # fmt: skip


async def _feed_refused(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    for _ in range(3):
        await record_feed_failure(engine, "wh-reno", "unknown SKUs ['X']", T0 - SECOND)
    return T0


async def _feed_ok(engine: AsyncEngine, vis: ScriptedVisibility, now: datetime) -> None:
    await record_feed_ok(engine, "wh-reno", now - SECOND)


async def _feed_stops(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    await record_feed_ok(engine, "wh-reno", T0 - timedelta(minutes=60))
    return T0 + SECOND


async def _stock_low(engine: AsyncEngine, vis: ScriptedVisibility) -> datetime:
    await set_available(engine, "wh-reno", "JKT-RAIN-L", 3)
    return T0


async def _restocked(engine: AsyncEngine, vis: ScriptedVisibility, now: datetime) -> None:
    await set_available(engine, "wh-reno", "JKT-RAIN-L", 50)


FAULTS = {
    "order-not-routed": Fault(
        OrderNotRouted(id="not-routed", minutes=10), "not-routed:orders", _not_routed, _routed
    ),
    "no-orders": Fault(NoOrders(id="quiet", minutes=30), "quiet:orders", _quiet, _order_arrives),
    "fulfilment-overdue": Fault(
        FulfilmentOverdue(id="overdue"), "overdue:wh-dallas", _overdue, _shipped
    ),
    "node-rejection-rate": Fault(
        NodeRejectionRate(id="rejects", threshold=0.3, min_requests=20),
        "rejects:store-nyc",
        _rejecting,
        _accepting,
    ),
    "feed-failing": Fault(
        FeedFailing(id="feed-fail", failures=3), "feed-fail:wh-reno", _feed_refused, _feed_ok
    ),
    "feed-silent": Fault(
        FeedSilent(id="feed-quiet", minutes=60), "feed-quiet:wh-reno", _feed_stops, _feed_ok
    ),
    "low-stock": Fault(
        LowStock(id="low", threshold=10, nodes=["wh-reno"]),
        "low:wh-reno/JKT-RAIN-L",
        _stock_low,
        _restocked,
    ),
}


async def test_defaults_are_seeded_and_a_clean_network_raises_none(
    ledger_engine: AsyncEngine,
) -> None:
    vis = ScriptedVisibility()
    vis.start("OK-1", T0 - timedelta(minutes=5))
    await record_feed_ok(ledger_engine, "wh-reno", T0 - timedelta(minutes=5))
    result = await run(ledger_engine, vis, T0)
    assert result.rules == len(default_rules()) and not result.errors, result
    assert result.opened == [] and await open_alerts(ledger_engine) == []
    rules = await store.load_rules(ledger_engine)
    assert [r.id for r in rules] == sorted(r.id for r in default_rules())


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_each_fault_opens_within_two_evaluations_and_resolves_once_clear(
    ledger_engine: AsyncEngine, name: str
) -> None:
    fault = FAULTS[name]
    await only_rules(ledger_engine, fault.rule)
    vis = ScriptedVisibility()
    vis.start("OK-1", T0 - timedelta(minutes=31))  # orders came in before the fault
    # Before the fault nothing is open.
    assert (await run(ledger_engine, vis, T0 - timedelta(minutes=1))).opened == []
    holds_from = await fault.inject(ledger_engine, vis)
    took = await evaluations_until_open(ledger_engine, vis, holds_from, fault.key)
    print(f"\n{name}: opened at evaluation {took} after its condition began")
    # The first evaluation after the condition began: within one window, so within two.
    assert took == 1
    [alert] = await open_alerts(ledger_engine)
    assert alert.key == fault.key and alert.rule_id == fault.rule.id
    # While it holds, it updates and stays one alert.
    now = holds_from + EVERY * 2
    again = await run(ledger_engine, vis, now)
    assert again.opened == [] and again.updated == 1
    await fault.clear(ledger_engine, vis, now)
    first_clean = await run(ledger_engine, vis, now + EVERY)
    assert first_clean.resolved == [] and first_clean.clearing == 1  # clear_after=2
    second_clean = await run(ledger_engine, vis, now + EVERY * 2)
    assert [t.key for t in second_clean.resolved] == [fault.key]
    assert await open_alerts(ledger_engine) == []
    [resolved] = await store.list_alerts(ledger_engine, "resolved")
    assert resolved.resolved_at == now + EVERY * 2 and resolved.id == alert.id


async def test_a_flickering_condition_keeps_one_alert_open(ledger_engine: AsyncEngine) -> None:
    await only_rules(ledger_engine, LowStock(id="low", nodes=["wh-reno"], clear_after=3))
    vis = ScriptedVisibility()
    opened = 0
    for i, available in enumerate([3, 50, 3, 50, 50, 3, 50, 50]):  # never 3 clean in a row
        await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", available)
        result = await run(ledger_engine, vis, T0 + EVERY * i)
        opened += len(result.opened)
        assert result.resolved == [], i
    assert opened == 1
    assert len(await open_alerts(ledger_engine)) == 1
    await run(ledger_engine, vis, T0 + EVERY * 8)  # the third clean evaluation in a row
    assert await open_alerts(ledger_engine) == []
    assert len(await store.list_alerts(ledger_engine)) == 1


async def test_a_reopened_condition_is_a_new_alert_and_history_is_kept(
    ledger_engine: AsyncEngine,
) -> None:
    await only_rules(ledger_engine, LowStock(id="low", nodes=["wh-reno"], clear_after=1))
    vis = ScriptedVisibility()
    for i, available in enumerate([3, 50, 3]):
        await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", available)
        await run(ledger_engine, vis, T0 + EVERY * i)
    history = await store.list_alerts(ledger_engine)
    assert [a.status for a in history] == ["open", "resolved"]
    assert {a.key for a in history} == {"low:wh-reno/JKT-RAIN-L"}


async def test_a_changed_threshold_applies_at_the_next_evaluation(
    ledger_engine: AsyncEngine,
) -> None:
    await only_rules(ledger_engine, LowStock(id="low", threshold=10, nodes=["wh-reno"]))
    await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", 20)
    vis = ScriptedVisibility()
    assert (await run(ledger_engine, vis, T0)).opened == []
    await store.put_rule(
        ledger_engine, LowStock(id="low", threshold=25, nodes=["wh-reno"]), by="test"
    )
    opened = (await run(ledger_engine, vis, T0 + EVERY)).opened
    assert [t.key for t in opened] == ["low:wh-reno/JKT-RAIN-L"]
    await store.put_rule(
        ledger_engine, LowStock(id="low", enabled=False, nodes=["wh-reno"]), by="test"
    )
    resolved = (await run(ledger_engine, vis, T0 + EVERY * 2)).resolved
    assert [t.key for t in resolved] == ["low:wh-reno/JKT-RAIN-L"]  # a disabled rule clears


async def test_concurrent_evaluations_open_one_alert_and_queue_one_delivery(
    ledger_engine: AsyncEngine,
) -> None:
    await only_rules(ledger_engine, LowStock(id="low", threshold=10, nodes=["wh-reno"]))
    await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", 3)
    vis = ScriptedVisibility()
    results = await asyncio.gather(*(run(ledger_engine, vis, T0, deliver=True) for _ in range(4)))
    assert sum(len(r.opened) for r in results) == 1
    assert len(await open_alerts(ledger_engine)) == 1
    assert len(await rows(ledger_engine, schema.alert_deliveries)) == 1


async def test_a_rule_that_cannot_be_evaluated_leaves_its_alerts_and_the_others_run(
    ledger_engine: AsyncEngine,
) -> None:
    await only_rules(
        ledger_engine,
        OrderNotRouted(id="not-routed", minutes=1),
        LowStock(id="low", nodes=["wh-reno"]),
    )
    vis = ScriptedVisibility()
    vis.start("STUCK-1", T0, routed=False)
    await run(ledger_engine, vis, T0 + timedelta(minutes=2))

    async def down(started_before: datetime) -> object:
        raise ConnectionError("Temporal is not reachable")

    vis.unrouted = down  # type: ignore[method-assign,assignment]
    await set_available(ledger_engine, "wh-reno", "JKT-RAIN-L", 3)
    for i in range(3):
        result = await run(ledger_engine, vis, T0 + timedelta(minutes=3 + i))
        assert [e.rule_id for e in result.errors] == ["not-routed"]
        assert result.resolved == []
    assert {a.rule_id for a in await open_alerts(ledger_engine)} == {"not-routed", "low"}


async def test_one_rejection_is_not_a_rate_below_the_minimum_sample(
    ledger_engine: AsyncEngine,
) -> None:
    await only_rules(ledger_engine, NodeRejectionRate(id="rejects", threshold=0.3, min_requests=5))
    at = T0 - timedelta(minutes=5)
    for i in range(4):  # 4 answers, all rejections: 100%, but fewer than 5
        await add_outcome(ledger_engine, f"R{i}:1:store-la", "store-la", "rejected",
                          requested_at=at, rejected_at=at)  # fmt: skip
    assert (await run(ledger_engine, ScriptedVisibility(), T0)).opened == []
    await add_outcome(ledger_engine, "R9:1:store-la", "store-la", "rejected",
                      requested_at=at, rejected_at=at)  # fmt: skip
    [opened] = (await run(ledger_engine, ScriptedVisibility(), T0)).opened
    assert opened.key == "rejects:store-la" and "5 of 5" in opened.summary


@pytest.mark.parametrize(
    ("local", "fires"),
    [
        ("2025-03-12 03:00", False),  # Wednesday night: closed
        ("2025-03-12 09:10", False),  # open only 10 minutes today: the night is not "quiet"
        ("2025-03-12 09:31", True),
        ("2025-03-15 12:00", False),  # Saturday
        ("2025-03-10 17:59", True),  # Monday, the first weekday after DST began (EDT)
        ("2025-03-10 18:00", False),
    ],
)
async def test_no_orders_counts_only_business_hours_in_the_rules_timezone(
    sqlite_engine: AsyncEngine, local: str, fires: bool
) -> None:
    await only_rules(sqlite_engine, NoOrders(id="quiet", minutes=30))
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("America/New_York"))
    result = await run(sqlite_engine, ScriptedVisibility(), now)
    assert bool(result.opened) is fires
