"""The demo board shows what the DOM handled on its own (the README promises rejections,
re-routes and escalations are visible): counted from the simulator that played the nodes and
from Temporal visibility."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from rich.console import Console
from temporalio.client import Client

from workers.demo import Handled, StreamStats, count_handled, render_board

EVENTS = [
    {"type": "accepted"},
    {"type": "rejected"},
    {"type": "rejected"},
    {"type": "shipped"},
]
REQUEST_LOG = [
    # the DOM cancelled a stalled request at the node (once; the replay of the same call is not
    # a second cancel), and a cancel of a purchase order is not a node's request
    {"path": "/nodes/wh-reno/fulfillment-requests/O-1:1:wh-reno/cancel", "new_effect": True},
    {"path": "/nodes/wh-reno/fulfillment-requests/O-1:1:wh-reno/cancel", "new_effect": False},
    {"path": "/suppliers/acme/purchase-orders/PO-1/cancel", "new_effect": True},
    {"path": "/nodes/wh-reno/fulfillment-requests", "new_effect": True},
]


class Visibility:
    def __init__(self) -> None:
        self.queries: list[str] = []

    async def count_workflows(self, query: str) -> Any:
        self.queries.append(query)
        return type("Count", (), {"count": 4})()


def simulator() -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"/_events": EVENTS, "/_log": REQUEST_LOG}[request.url.path]
        return httpx.Response(200, json=body)

    return httpx.AsyncClient(base_url="http://sim", transport=httpx.MockTransport(answer))


async def test_rejections_cancels_reroutes_and_escalations_are_counted() -> None:
    visibility = Visibility()
    since = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    async with simulator() as sim:
        handled = await count_handled(cast(Client, visibility), sim, since)
    assert (handled.rejected, handled.cancelled_at_node) == (2, 1)
    assert handled.rerouted == 3 and handled.escalated == 4
    [query] = visibility.queries
    assert "Escalated = true" in query and since.isoformat() in query


async def test_without_a_simulator_only_escalations_are_counted() -> None:
    handled = await count_handled(cast(Client, Visibility()), None, datetime.now(UTC))
    assert (handled.rejected, handled.cancelled_at_node, handled.escalated) == (0, 0, 4)


def test_the_board_shows_them_next_to_the_statuses_within_24_lines() -> None:
    screen = io.StringIO()
    console = Console(file=screen, width=120, force_terminal=True, color_system=None)
    links = {"Temporal UI": "http://localhost:8233", "API": "http://127.0.0.1:8000"}
    board = render_board(Counter({"completed": 3}), StreamStats(), links, Handled(2, 1, 4))
    console.print(board)
    shown = screen.getvalue()
    assert "rejected by a node" in shown and "re-routed to another node" in shown
    assert "escalated to ops" in shown and "cancelled at a node" in shown
    row = next(line for line in shown.splitlines() if "re-routed" in line)
    assert row.rstrip().rstrip("│").rstrip().endswith("3")  # rejected 2 + cancelled 1
    assert len(shown.splitlines()) <= 24  # a small terminal shows it whole (Live crops)
