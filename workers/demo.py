"""The demo order stream and the live status board of `dom dev --demo`.

Orders are realistic and random: real US ZIP codes across the country, 1-4 lines of the demo
catalogue, a mix of customer tiers, channels and service levels, and now and then a store
pickup (BOPIS). They go in through the public HTTP API, exactly as a channel would send them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from temporalio.client import Client

from dom_workflows.network import Network
from dom_workflows.order.models import OrderStatus

# (zip, city, state): real ZIP codes, spread over every region the network serves.
DESTINATIONS = [
    ("10118", "New York", "NY"),
    ("02108", "Boston", "MA"),
    ("19103", "Philadelphia", "PA"),
    ("20001", "Washington", "DC"),
    ("28202", "Charlotte", "NC"),
    ("30303", "Atlanta", "GA"),
    ("33131", "Miami", "FL"),
    ("32801", "Orlando", "FL"),
    ("37203", "Nashville", "TN"),
    ("43215", "Columbus", "OH"),
    ("48226", "Detroit", "MI"),
    ("46204", "Indianapolis", "IN"),
    ("60601", "Chicago", "IL"),
    ("53202", "Milwaukee", "WI"),
    ("55401", "Minneapolis", "MN"),
    ("63101", "St. Louis", "MO"),
    ("64105", "Kansas City", "MO"),
    ("70112", "New Orleans", "LA"),
    ("73102", "Oklahoma City", "OK"),
    ("75201", "Dallas", "TX"),
    ("77002", "Houston", "TX"),
    ("78701", "Austin", "TX"),
    ("80202", "Denver", "CO"),
    ("84111", "Salt Lake City", "UT"),
    ("85004", "Phoenix", "AZ"),
    ("87102", "Albuquerque", "NM"),
    ("89101", "Las Vegas", "NV"),
    ("83702", "Boise", "ID"),
    ("59601", "Helena", "MT"),
    ("98101", "Seattle", "WA"),
    ("97204", "Portland", "OR"),
    ("94111", "San Francisco", "CA"),
    ("95814", "Sacramento", "CA"),
    ("90012", "Los Angeles", "CA"),
    ("92101", "San Diego", "CA"),
    ("04101", "Portland", "ME"),
    ("05401", "Burlington", "VT"),
]
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Emma",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jon",
    "Kai",
    "Lena",
    "Mo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
LAST = [
    "Ruiz",
    "Park",
    "Nguyen",
    "Okafor",
    "Smith",
    "Cohen",
    "Rossi",
    "Khan",
    "Berg",
    "Silva",
    "Lee",
    "Novak",
]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Pine St", "Cedar Ln", "Elm St", "Lake Rd", "Hill St"]
TIERS = (["standard", "loyalty", "vip"], [70, 20, 10])
CHANNELS = (["web", "mobile", "marketplace", "store"], [55, 25, 12, 8])
SERVICES = (["ground", "express", "overnight"], [70, 22, 8])
PROMISE = {"ground": None, "express": 3, "overnight": 1}
BOPIS_SHARE = 0.08
DROPSHIP_SHARE = 0.03  # the dropship-only SKUs come from the supplier node
# Customers who order again minutes later: with a consolidation window, both leave as one parcel.
REPEAT_SHARE = 0.12


class DemoOrders:
    """Random but plausible orders from the demo network."""

    def __init__(
        self, network: Network, rng: random.Random | None = None, prefix: str = "DEMO"
    ) -> None:
        self.network = network
        self.rng = rng or random.Random()
        self.prefix = prefix
        self.seq = 0
        self.catalogue = [s for s in network.skus if "dropship-only" not in s.tags]
        self.dropship = [s for s in network.skus if "dropship-only" in s.tags]
        self.pickup_nodes = [n.id for n in network.nodes if n.pickup]
        self.last_shipped: dict[str, Any] | None = None

    def _pick(self, options: tuple[list[str], list[int]]) -> str:
        return self.rng.choices(options[0], weights=options[1])[0]

    def next(self) -> dict[str, Any]:
        rng = self.rng
        self.seq += 1
        if self.last_shipped is not None and rng.random() < REPEAT_SHARE:
            # The same customer again, to the same address, with the same basket.
            again = {**self.last_shipped, "order_id": f"{self.prefix}-{self.seq:05d}"}
            again["placed_at"] = datetime.now(UTC).isoformat()
            self.last_shipped = None
            return again
        n_lines = rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0]
        skus = rng.sample(self.catalogue, n_lines)
        if self.dropship and rng.random() < DROPSHIP_SHARE:
            skus[-1] = rng.choice(self.dropship)
        lines = [
            {
                "line_id": str(i + 1),
                "sku": s.sku,
                "qty": rng.choices([1, 2, 3], weights=[80, 15, 5])[0],
                "unit_price": {"amount": str(s.price), "currency": self.network.currency},
            }
            for i, s in enumerate(skus)
        ]
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        tier = self._pick(TIERS)
        order: dict[str, Any] = {
            "order_id": f"{self.prefix}-{self.seq:05d}",
            "channel": self._pick(CHANNELS),
            "customer": {"id": f"C-{rng.randint(1000, 99999)}", "tier": tier},
            "lines": lines,
            "tags": ["demo"],
            "placed_at": datetime.now(UTC).isoformat(),
        }
        if self.pickup_nodes and rng.random() < BOPIS_SHARE:
            order |= {"delivery": "pickup", "pickup_node": rng.choice(self.pickup_nodes)}
            return order
        zip_code, city, state = rng.choice(DESTINATIONS)
        service = self._pick(SERVICES)
        if tier == "vip" and service == "ground":
            service = "express"  # VIPs mostly pay for speed
        order |= {
            "ship_to": {
                "name": name,
                "line1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
                "city": city,
                "state": state,
                "zip": zip_code,
                "country": "US",
            },
            "service_level": service,
        }
        if PROMISE[service]:
            order["promise_days"] = PROMISE[service]
        self.last_shipped = order
        return order


@dataclass
class StreamStats:
    submitted: int = 0
    refused: int = 0
    errors: int = 0
    last_error: str = ""
    started: float = field(default_factory=time.time)


async def order_stream(
    api_url: str,
    orders: DemoOrders,
    rate: float,
    stats: StreamStats,
    stop: asyncio.Event,
    api_key: str | None = None,
) -> None:
    """POST orders to the API at `rate` per second until `stop`, authenticated with `api_key`
    (an `orders:write` key); survives an API hiccup."""
    interval = 1.0 / rate if rate > 0 else float("inf")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=api_url, timeout=10.0, headers=headers) as http:
        next_at = time.monotonic()
        while not stop.is_set():
            body = orders.next()
            try:
                r = await http.post("/v1/orders", json=body)
                if r.status_code in (200, 202):
                    stats.submitted += 1
                else:
                    stats.refused += 1
                    stats.last_error = f"{r.status_code} {r.text[:120]}"
            except httpx.HTTPError as e:
                stats.errors += 1
                stats.last_error = repr(e)[:120]
            next_at += interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))


STATUS_STYLE = {
    OrderStatus.RECEIVED: "white",
    OrderStatus.ROUTED: "cyan",
    OrderStatus.FULFILLING: "blue",
    OrderStatus.PARTIALLY_SHIPPED: "magenta",
    OrderStatus.SHIPPED: "yellow",
    OrderStatus.COMPLETED: "green",
    OrderStatus.CANCELLED: "dim",
    OrderStatus.FAILED: "red",
}


async def count_by_status(client: Client, since: datetime) -> Counter[str]:
    """Orders started since `since`, by the OrderStatus search attribute (Temporal visibility)."""
    base = f"WorkflowType='OrderWorkflow' AND StartTime >= '{since.isoformat()}'"
    counts: Counter[str] = Counter()
    try:
        result = await client.count_workflows(f"{base} GROUP BY OrderStatus")
        for group in result.groups:
            counts[str(group.group_values[0])] += group.count
        return counts
    except Exception:
        # Visibility stores that cannot GROUP BY a custom attribute: one count per status.
        for status in OrderStatus:
            r = await client.count_workflows(f"{base} AND OrderStatus='{status.value}'")
            counts[status.value] = r.count
        return counts


@dataclass
class Handled:
    """What went wrong at the partners and what the DOM did about it, with no hand touching it
    (the README promises these are visible): read from the simulator, which played the nodes,
    and from Temporal visibility."""

    rejected: int = 0  # fulfilment requests a node refused; the DOM re-routed the units
    cancelled_at_node: int = 0  # requests the DOM cancelled at a node (a missed SLA, a cancel)
    escalated: int = 0  # orders flagged Escalated for ops

    @property
    def rerouted(self) -> int:
        return self.rejected + self.cancelled_at_node


async def count_handled(client: Client, http: httpx.AsyncClient | None, since: datetime) -> Handled:
    """`http` is the simulator's base URL client (None: no simulator, only escalations)."""
    handled = Handled()
    query = (
        f"WorkflowType='OrderWorkflow' AND StartTime >= '{since.isoformat()}' AND Escalated = true"
    )
    handled.escalated = (await client.count_workflows(query)).count
    if http is not None:
        events = (await http.get("/_events")).json()
        handled.rejected = sum(1 for e in events if e["type"] == "rejected")
        log = (await http.get("/_log")).json()
        handled.cancelled_at_node = sum(
            1
            for e in log
            if e["new_effect"]
            and "/fulfillment-requests/" in e["path"]
            and e["path"].endswith("/cancel")
        )
    return handled


def render_board(
    counts: Counter[str],
    stats: StreamStats,
    links: dict[str, str],
    handled: Handled | None = None,
) -> Group:
    table = Table(title="Demo orders by status (this session)", min_width=48)
    table.add_column("status")
    table.add_column("orders", justify="right")
    table.add_column("", min_width=20)
    total = sum(counts.values()) or 1
    for status in OrderStatus:
        n = counts.get(status.value, 0)
        style = STATUS_STYLE.get(status, "white")
        table.add_row(
            Text(status.value, style=style), str(n), Text("█" * round(20 * n / total), style=style)
        )
    table.add_row("total", str(sum(counts.values())), "", style="bold")
    elapsed = int(time.time() - stats.started)
    footer = Text(
        f"submitted {stats.submitted} in {elapsed}s, refused {stats.refused}, API errors {stats.errors}"
        + (f" (last: {stats.last_error})" if stats.last_error else "")
    )
    addresses = Text("\n".join(f"{k:<12}{v}" for k, v in links.items()), style="dim")
    top: Any = table
    if handled is not None:
        # Side by side: the board must fit a 24-line terminal, or Live crops it.
        top = Table.grid(padding=(0, 2))
        top.add_row(table, render_handled(handled))
    return Group(top, footer, addresses, Text("Ctrl-C stops everything.", style="dim"))


def render_handled(h: Handled) -> Table:
    table = Table(title="Handled by the DOM, no hand touching it")
    table.add_column("what happened")
    table.add_column("", justify="right")
    table.add_row(Text("rejected by a node", style="magenta"), str(h.rejected))
    table.add_row(
        Text("cancelled at a node (missed SLA)", style="yellow"), str(h.cancelled_at_node)
    )
    table.add_row(Text("re-routed to another node", style="cyan"), str(h.rerouted))
    table.add_row(Text("escalated to ops", style="red"), str(h.escalated))
    return table


@contextlib.contextmanager
def logs_to_file(path: Path) -> Iterator[logging.Handler]:
    """While the live board owns the terminal, log records go to `path` instead: handlers that
    write to the terminal (the root logger's, and those of loggers that do not propagate, such
    as uvicorn's) are set aside and the file takes their place; with a handler on the root
    logger, logging's last-resort stderr handler stays quiet too. A plain file handler holds no
    lazy imports, so it is safe even when a record is logged inside the workflow sandbox."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    terminal = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    root = logging.getLogger()
    loggers = [root] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    changed: list[tuple[logging.Logger, list[logging.Handler]]] = []
    for lg in loggers:
        aside: list[logging.Handler] = [
            h
            for h in lg.handlers
            if isinstance(h, logging.StreamHandler)
            and not isinstance(h, logging.FileHandler)
            and h.stream in terminal
        ]
        # Loggers that propagate reach the root logger's file handler.
        takes_file = lg is root or (bool(aside) and not lg.propagate)
        if not (aside or takes_file):
            continue
        for h in aside:
            lg.removeHandler(h)
        if takes_file:
            lg.addHandler(to_file)
        changed.append((lg, aside))
    try:
        yield to_file
    finally:
        for lg, aside in changed:
            lg.removeHandler(to_file)
            for h in aside:
                lg.addHandler(h)
        to_file.close()


async def status_board(
    client: Client,
    stats: StreamStats,
    links: dict[str, str],
    stop: asyncio.Event,
    console: Console,
    since: datetime,
    every: float = 1.0,
    *,
    log_path: Path,
    sim_url: str | None = None,
) -> None:
    """A live terminal table; without a terminal (a log file), a snapshot every 10 s.

    The live table never replaces sys.stdout / sys.stderr (rich's proxies import lazily, and a
    record logged inside the workflow sandbox would run that import there); the worker's logs go
    to `log_path` while it is shown, so they cannot tear it either."""
    counts: Counter[str] = Counter()
    handled = Handled()
    sim = httpx.AsyncClient(base_url=sim_url, timeout=2.0) if sim_url else None

    async def refresh() -> None:
        nonlocal counts, handled
        with contextlib.suppress(Exception):  # a visibility hiccup must not end the demo
            counts = await count_by_status(client, since)
        with contextlib.suppress(Exception):  # nor a simulator that is restarting
            handled = await count_handled(client, sim, since)

    try:
        await _show(refresh, lambda: render_board(counts, stats, links, handled), stop, console,
                    every, log_path)  # fmt: skip
    finally:
        if sim is not None:
            await sim.aclose()


async def _show(
    refresh: Callable[[], Awaitable[None]],
    board: Callable[[], Group],
    stop: asyncio.Event,
    console: Console,
    every: float,
    log_path: Path,
) -> None:

    if not console.is_terminal:
        while not stop.is_set():
            await refresh()
            console.print(board())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10.0)
        return
    with (
        logs_to_file(log_path),
        Live(
            board(),
            console=console,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live,
    ):
        while not stop.is_set():
            await refresh()
            live.update(board())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
