"""The alert webhook: signed, one delivery per open and per resolve, retried under the same
Idempotency-Key and body until the receiver acknowledges; nothing is sent twice once it has."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.alerts import webhook
from activities.alerts.webhook import AlertWebhook, WebhookMisconfigured, deliver_pending
from activities.inventory import schema
from dom_workflows.alerts.rules import LowStock
from tests.support.alert_receiver import alert_receiver
from tests.support.alerts import EVERY, T0, ScriptedVisibility, only_rules, rows, run, set_available

SECRET = "test-alert-secret"  # a test value; real secrets come from the environment


async def test_one_open_and_one_resolve_per_alert_even_when_a_delivery_is_retried(
    sqlite_engine: AsyncEngine,
) -> None:
    engine = sqlite_engine
    await only_rules(engine, LowStock(id="low", nodes=["wh-reno"], clear_after=1))
    vis = ScriptedVisibility()
    async with alert_receiver(SECRET, fail_first=2) as rx, httpx.AsyncClient() as http:
        hook = AlertWebhook(url=rx.url, secret=SECRET)
        await set_available(engine, "wh-reno", "JKT-RAIN-L", 3)
        await set_available(engine, "wh-reno", "JKT-RAIN-M", 4)
        assert len((await run(engine, vis, T0, deliver=True)).opened) == 2
        # The receiver is down for the first two requests: both stay pending.
        first = await deliver_pending(engine, http, hook)
        assert (first.delivered, first.pending) == (0, 2)
        await set_available(engine, "wh-reno", "JKT-RAIN-L", 50)
        await set_available(engine, "wh-reno", "JKT-RAIN-M", 50)
        assert len((await run(engine, vis, T0 + EVERY, deliver=True)).resolved) == 2
        second = await deliver_pending(engine, http, hook)
        assert (second.delivered, second.pending) == (4, 0)
        third = await deliver_pending(engine, http, hook)  # nothing left: nothing sent
        assert third.delivered == 0 and len(rx.requests) == 6
        # Later evaluations of a clean network send nothing either.
        await run(engine, vis, T0 + EVERY * 2, deliver=True)
        assert (await deliver_pending(engine, http, hook)).delivered == 0
    assert rx.bad_signatures == 0
    events = sorted((b["alert"]["key"], b["event"]) for b in rx.accepted.values())
    assert events == [
        ("low:wh-reno/JKT-RAIN-L", "opened"),
        ("low:wh-reno/JKT-RAIN-L", "resolved"),
        ("low:wh-reno/JKT-RAIN-M", "opened"),
        ("low:wh-reno/JKT-RAIN-M", "resolved"),
    ]
    # The refused tries were sent again with the same key and the same bytes.
    by_key: dict[str, set[bytes]] = {}
    for headers, body in rx.requests:
        by_key.setdefault(headers["idempotency-key"], set()).add(body)
    assert len(by_key) == 4 and all(len(bodies) == 1 for bodies in by_key.values())
    keys = [headers["idempotency-key"] for headers, _ in rx.requests]
    assert len(keys) - len(set(keys)) == 2  # the two refused ones, sent again
    delivered = await rows(engine, schema.alert_deliveries)
    assert {d.status for d in delivered} == {"delivered"}
    assert sorted(d.attempts for d in delivered) == [1, 1, 2, 2]


async def test_a_wrong_secret_is_refused_by_the_receiver_and_stays_pending(
    sqlite_engine: AsyncEngine,
) -> None:
    await only_rules(sqlite_engine, LowStock(id="low", nodes=["wh-reno"]))
    await set_available(sqlite_engine, "wh-reno", "JKT-RAIN-L", 3)
    await run(sqlite_engine, ScriptedVisibility(), T0, deliver=True)
    async with alert_receiver(SECRET) as rx, httpx.AsyncClient() as http:
        result = await deliver_pending(sqlite_engine, http, AlertWebhook(rx.url, "not-it"))
    assert (result.delivered, result.pending, rx.bad_signatures) == (0, 1, 1)
    assert "401" in result.errors[0]


async def test_no_webhook_configured_queues_no_delivery(sqlite_engine: AsyncEngine) -> None:
    await only_rules(sqlite_engine, LowStock(id="low", nodes=["wh-reno"]))
    await set_available(sqlite_engine, "wh-reno", "JKT-RAIN-L", 3)
    await run(sqlite_engine, ScriptedVisibility(), T0 - timedelta(minutes=1), deliver=False)
    assert await rows(sqlite_engine, schema.alert_deliveries) == []


def test_the_webhook_is_configured_from_the_environment() -> None:
    assert webhook.from_env({}) is None
    env = {webhook.URL_ENV: "https://ops.example/alerts", webhook.SECRET_ENV: "s3"}
    assert webhook.from_env(env) == AlertWebhook("https://ops.example/alerts", "s3")
    with pytest.raises(WebhookMisconfigured, match="must be signed"):
        webhook.from_env({webhook.URL_ENV: "https://ops.example/alerts"})
    with pytest.raises(WebhookMisconfigured, match="http"):
        webhook.from_env({webhook.URL_ENV: "ops.example", webhook.SECRET_ENV: "s3"})


def test_the_secret_may_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "alert-secret"
    secret_file.write_text("from-a-file\n")
    env = {webhook.URL_ENV: "https://ops.example/a", webhook.SECRET_FILE_ENV: str(secret_file)}
    hook = webhook.from_env(env)
    assert hook is not None and hook.secret == "from-a-file"
