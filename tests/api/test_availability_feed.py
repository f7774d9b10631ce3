"""GET /v1/availability/changes (paging, the channel's safety buffer per API key, refusals) and
the signed outbound availability webhook over real HTTP: a reserve reaches it within 5 s, a
failed delivery is resent as the same batch with the same Idempotency-Key, and a restarted
publisher resends exactly the unacknowledged batch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import availability, ledger, schema
from dom_workflows.network import Network
from dom_workflows.partners import signing
from tests.support.api import Api, assert_problem
from tests.support.auth import new_key
from workers.api import availability_webhook
from workers.api.apikeys import auth_headers
from workers.api.availability_webhook import AvailabilityWebhook, from_env, running

SKU = "SUP-BOARD"  # 60 units, all at ds-portland, no safety stock
SECRET = "whsec-test"


async def sell(engine: AsyncEngine, order: str, qty: int, node: str = "ds-portland") -> None:
    async with engine.begin() as conn:
        await ledger.reserve(conn, order, 1, [ledger.Allocation(order, node, SKU, "1", qty)])


async def head(engine: AsyncEngine) -> int:
    return await availability.sequence(engine)


# --- the poll API --------------------------------------------------------------------------------


async def test_changes_page_by_seq_and_next(api: Api) -> None:
    await sell(api.engine, "O-1", 5)
    await sell(api.engine, "O-2", 1)
    first = await api.http.get("/v1/availability/changes", params={"limit": 1})
    assert first.status_code == 200, first.text
    page = first.json()
    [change] = page["changes"]
    assert (change["seq"], change["sku"], change["atp"], change["cause"]) == (1, SKU, 55, "reserve")
    assert change["available"] == 55  # this key has no channel: no buffer
    assert page["next"] == 1
    rest = (await api.http.get("/v1/availability/changes", params={"since": 1})).json()
    assert [(c["seq"], c["atp"]) for c in rest["changes"]] == [(2, 54)]
    assert rest["next"] == 2
    empty = (await api.http.get("/v1/availability/changes", params={"since": 2})).json()
    assert empty == {"changes": [], "next": 2}


async def test_available_is_atp_less_the_key_channel_buffer_never_below_zero(
    api: Api, network: Network
) -> None:
    assert [network.channel(c).safety_buffer for c in ("web", "shopify", "marketplace")] == [
        0,
        2,
        5,
    ]
    await sell(api.engine, "O-3", 57)  # ATP 60 -> 3
    seen = {}
    for channel in ("web", "shopify", "marketplace", None):
        key = await new_key(api.engine, ["orders:read"], channel=channel)
        r = await api.http.get("/v1/availability/changes", headers=auth_headers(key))
        assert r.status_code == 200, r.text
        [change] = r.json()["changes"]
        assert change["atp"] == 3
        seen[channel] = change["available"]
    assert seen == {"web": 3, "shopify": 1, "marketplace": 0, None: 3}


@pytest.mark.parametrize(
    "params",
    [{"since": -1}, {"since": "abc"}, {"limit": 0}, {"limit": 1001}, {"since": 2**31}],
)
async def test_a_bad_since_or_limit_is_422(api: Api, params: dict) -> None:
    assert_problem(await api.http.get("/v1/availability/changes", params=params), 422)


async def test_a_cursor_past_the_newest_change_is_400_and_changes_nothing(api: Api) -> None:
    await sell(api.engine, "O-4", 1)
    r = await api.http.get("/v1/availability/changes", params={"since": 99})
    assert_problem(r, 400, "past the newest change")
    assert await head(api.engine) == 1


async def test_the_feed_needs_orders_read(api: Api) -> None:
    writer = await new_key(api.engine, ["orders:write"])
    r = await api.http.get("/v1/availability/changes", headers=auth_headers(writer))
    assert_problem(r, 403, "orders:read")
    r = await api.http.get("/v1/availability/changes", headers={"Authorization": ""})
    assert r.status_code == 401


# --- the webhook ---------------------------------------------------------------------------------


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A real HTTP server on a local port: answers each request with the next scripted status
    (then 200) and remembers what came."""

    statuses: list[int] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                headers = {}
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self.statuses.pop(0) if self.statuses else 200
                if status == 200:
                    # Only an acknowledged batch counts as arrived.
                    self.received.append(Delivery(headers, body, time.monotonic()))
                    self.arrived.set()
                else:
                    self.received.append(Delivery(headers, body, -1))
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def receiver(*statuses: int) -> AsyncIterator[Receiver]:
    r = Receiver(statuses=list(statuses))
    server = await asyncio.start_server(r.serve, "127.0.0.1", 0)
    r.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/dom/availability"
    try:
        yield r
    finally:
        server.close()


def check_signature(d: Delivery) -> None:
    signing.verify(
        SECRET,
        d.headers.get(signing.TIMESTAMP_HEADER.lower()),
        d.headers.get(signing.SIGNATURE_HEADER.lower()),
        d.body,
        time.time(),
    )


def publisher(engine: AsyncEngine, network: Network, url: str, **kw: object) -> AvailabilityWebhook:
    return AvailabilityWebhook(engine, network, url, SECRET, **kw)  # type: ignore[arg-type]


async def cursor(engine: AsyncEngine) -> tuple[int, int | None]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(schema.feed_cursors))).one()
    return row.acked_seq, row.pending_seq


async def test_a_reserve_reaches_the_webhook_within_5_s_signed(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    async with receiver() as rx:
        hook = publisher(ledger_engine, network, rx.url, channel="shopify")
        async with running(hook):
            await asyncio.sleep(0.2)  # the publisher is idle, polling
            sold = time.monotonic()
            await sell(ledger_engine, "O-W1", 4)
            async with asyncio.timeout(5):
                await rx.arrived.wait()
            latency = rx.received[0].at - sold
        [d] = rx.received
        check_signature(d)
        batch = json.loads(d.body)
        assert batch["changes"] == [
            {
                "seq": 1,
                "sku": SKU,
                "atp": 56,
                "available": 54,  # the shopify channel's buffer of 2
                "at": batch["changes"][0]["at"],
                "cause": "reserve",
            }
        ]
        assert batch["next"] == 1
        assert d.headers["idempotency-key"] == "dom-availability-1-1"
        assert d.headers["content-type"] == "application/json"
        assert await cursor(ledger_engine) == (1, None)
        print(f"reserve -> webhook: {latency * 1000:.0f} ms")


async def test_a_failed_delivery_is_resent_as_the_same_batch(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await sell(ledger_engine, "O-W2", 1)
    await sell(ledger_engine, "O-W3", 2)
    async with receiver(500) as rx:
        hook = publisher(ledger_engine, network, rx.url, backoff_first=0.05)
        async with running(hook):
            async with asyncio.timeout(10):
                await rx.arrived.wait()
        failed, acked = rx.received
        assert failed.at == -1 and acked.at > 0
        assert failed.body == acked.body
        assert failed.headers["idempotency-key"] == acked.headers["idempotency-key"]
        assert acked.headers["idempotency-key"] == "dom-availability-1-2"
        check_signature(acked)
        assert [c["atp"] for c in json.loads(acked.body)["changes"]] == [59, 57]
    assert await cursor(ledger_engine) == (2, None)


async def test_a_restart_resends_exactly_the_unacknowledged_batch(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await sell(ledger_engine, "O-R1", 1)
    async with receiver(503) as rx, httpx.AsyncClient() as http:
        crashed = publisher(ledger_engine, network, rx.url)
        with pytest.raises(RuntimeError, match="503"):
            await crashed.publish_once(http)
        assert await cursor(ledger_engine) == (0, 1)  # the batch's end is on record
        await sell(ledger_engine, "O-R2", 1)  # arrives while nobody publishes
        await crashed.release_lease()  # its process is gone (a crash: the lease would expire)

        restarted = publisher(ledger_engine, network, rx.url)
        assert await restarted.publish_once(http)
        assert await restarted.publish_once(http)
        assert not await restarted.publish_once(http)  # nothing left
        lost, resent, new = rx.received
        assert (
            resent.body == lost.body and resent.headers["idempotency-key"] == "dom-availability-1-1"
        )
        assert [c["seq"] for c in json.loads(new.body)["changes"]] == [2]
        assert new.headers["idempotency-key"] == "dom-availability-2-2"
    assert await cursor(ledger_engine) == (2, None)


async def test_one_publisher_at_a_time(ledger_engine: AsyncEngine, network: Network) -> None:
    await sell(ledger_engine, "O-L1", 1)
    async with receiver() as rx, httpx.AsyncClient() as http:
        first = publisher(ledger_engine, network, rx.url)
        second = publisher(ledger_engine, network, rx.url)
        assert await first.publish_once(http)
        await sell(ledger_engine, "O-L2", 1)
        assert not await second.publish_once(http)  # the lease is the first one's
        assert len(rx.received) == 1
        await first.release_lease()
        assert await second.publish_once(http)
        assert len(rx.received) == 2


def test_the_webhook_is_off_without_a_url_and_refused_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, network: Network
) -> None:
    engine = None  # never touched: from_env only reads the environment
    monkeypatch.delenv(availability_webhook.URL_ENV, raising=False)
    assert from_env(engine, network) is None  # type: ignore[arg-type]
    monkeypatch.setenv(availability_webhook.URL_ENV, "https://shop.example/hook")
    monkeypatch.delenv(availability_webhook.SECRET_ENV, raising=False)
    with pytest.raises(ValueError, match="must be signed"):
        from_env(engine, network)  # type: ignore[arg-type]
    monkeypatch.setenv(availability_webhook.SECRET_ENV, SECRET)
    monkeypatch.setenv(availability_webhook.CHANNEL_ENV, "marketplace")
    hook = from_env(engine, network)  # type: ignore[arg-type]
    assert hook is not None and hook.channel == "marketplace" and hook.secret == SECRET
    monkeypatch.setenv(availability_webhook.URL_ENV, "ftp://shop.example/hook")
    with pytest.raises(ValueError, match="http"):
        from_env(engine, network)  # type: ignore[arg-type]
