"""The README's second-terminal session against a real `dom dev` (no --demo): every command is a
subprocess with the environment a user would have, checked on its output, its exit code and the
order's state afterwards. Every file in examples/orders/ is submitted once."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from dom_workflows.config import PROJECT_ROOT
from tests.support.devstack import DevStack, Result
from tests.support.until import until

ORDERS = PROJECT_ROOT / "examples" / "orders"
pytestmark = pytest.mark.devserver


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ORDERS / name).read_text())
    return data


async def settled(stack: DevStack, order_id: str, what: str, check: Any) -> dict[str, Any]:
    return await until(lambda: stack.order(order_id), check, what, within=30, interval=0.2)


def instructed(state: dict[str, Any]) -> bool:
    kinds = [e["kind"] for e in state["timeline"]]
    return bool(state["shipments"]) and kinds.count("instructed") >= len(state["shipments"])


def no_traceback(r: Result) -> None:
    assert "Traceback" not in r.output and 'File "' not in r.output, str(r)


def test_every_example_order_has_a_test() -> None:
    tested = {
        "web-standard.json",
        "vip-express.json",
        "marketplace-split.json",
        "bopis-chicago.json",
        "invalid-unknown-sku.json",
    }
    assert {p.name for p in ORDERS.glob("*.json")} == tested


async def test_web_standard_runs_to_completed_with_shipment_events(stack: DevStack) -> None:
    order_id = example("web-standard.json")["order_id"]
    first = (await stack.ok("order", "submit", "examples/orders/web-standard.json")).json()
    assert first["order_id"] == order_id and first["workflow_id"] == f"order-{order_id}"
    assert first["created"] is True and first["status"] == "routed"
    again = (await stack.ok("order", "submit", "examples/orders/web-standard.json")).json()
    assert again["created"] is False and again["workflow_id"] == first["workflow_id"]

    state = await settled(stack, order_id, "the shipment instructed", instructed)
    [shipment] = state["shipments"]
    shipment_id, node = shipment["shipment_id"], shipment["node"]
    shown = (await stack.ok("order", "show", order_id)).out
    assert order_id in shown and "routed" in shown and node in shown and "BOOT-HIKE-9" in shown
    before = (await stack.ok("inventory", "show", "BOOT-HIKE-9", "--json")).json()

    base = ["shipment", "event", "--order", order_id, "--shipment", shipment_id]
    accepted = await stack.ok(*base, "--type", "accepted")
    assert accepted.json()["event"]["type"] == "accepted"
    await settled(stack, order_id, "accepted", lambda s: s["shipments"][0]["status"] == "accepted")
    await stack.ok(*base, "--type", "shipped", "--carrier", "UPS", "--tracking", "1Z999")
    await stack.ok(*base, "--type", "delivered")
    final = await settled(stack, order_id, "completed", lambda s: s["status"] == "completed")
    [done] = final["shipments"]
    assert (done["status"], done["carrier"], done["tracking"]) == ("delivered", "UPS", "1Z999")
    assert all(ln["delivered"] == ln["qty"] for ln in final["lines"])

    after = (await stack.ok("inventory", "show", "BOOT-HIKE-9", "--json")).json()
    on_hand = {r["node"]: r["on_hand"] for r in before["nodes"]}
    assert {r["node"]: r["on_hand"] for r in after["nodes"]}[node] == on_hand[node] - 1

    refused = await stack.dom("order", "cancel", order_id)
    assert refused.code == 1 and "refused" in refused.err, str(refused)
    no_traceback(refused)


async def test_vip_express_is_routed_then_cancelled(stack: DevStack) -> None:
    order_id = example("vip-express.json")["order_id"]
    await stack.ok("order", "submit", "examples/orders/vip-express.json")
    state = await settled(stack, order_id, "instructed", instructed)
    assert {ln["sku"] for ln in state["lines"]} == {"PARKA-EXP-M", "GPS-WATCH"}
    result = (await stack.ok("order", "cancel", order_id, "--reason", "changed mind")).json()
    assert result["released_units"] == 2 and result["order_status"] == "cancelled", result
    assert {c["sku"]: c["qty"] for c in result["cancelled"]} == {"PARKA-EXP-M": 1, "GPS-WATCH": 1}
    final = await settled(stack, order_id, "cancelled", lambda s: s["status"] == "cancelled")
    assert all(ln["cancelled"] == ln["qty"] for ln in final["lines"])
    assert any("changed mind" in e["message"] for e in final["timeline"]), final["timeline"]


async def test_marketplace_split_is_held_and_released(stack: DevStack) -> None:
    order = example("marketplace-split.json")
    order_id = order["order_id"]
    await stack.ok("order", "submit", "examples/orders/marketplace-split.json")
    state = await settled(stack, order_id, "instructed", instructed)
    assert len({s["node"] for s in state["shipments"]}) >= 2, state["shipments"]
    assert sum(ln["allocated"] for ln in state["lines"]) == sum(ln["qty"] for ln in order["lines"])

    held = (await stack.ok("order", "hold", order_id, "--reason", "address check")).json()
    assert [(h["kind"], h["reason"]) for h in held["holds"]] == [("manual", "address check")]
    await settled(stack, order_id, "on hold", lambda s: s["status"] == "on_hold")
    released = (await stack.ok("order", "release", order_id)).json()
    assert released["holds"] == []
    await settled(stack, order_id, "released", lambda s: s["status"] != "on_hold")


async def test_bopis_is_picked_up_at_its_store(stack: DevStack) -> None:
    order = example("bopis-chicago.json")
    await stack.ok("order", "submit", "examples/orders/bopis-chicago.json")
    state = await settled(stack, order["order_id"], "instructed", instructed)
    # The pickup store hands over what it holds; lines it cannot give from its (protected)
    # floor stock come from elsewhere, and every unit is placed.
    at_store = [s for s in state["shipments"] if s["node"] == order["pickup_node"]]
    assert at_store and all(s["service"] == "pickup" for s in at_store), state["shipments"]
    assert all(ln["allocated"] == ln["qty"] for ln in state["lines"]), state["lines"]


async def test_the_invalid_example_is_refused_with_every_problem(stack: DevStack) -> None:
    r = await stack.dom("order", "submit", "examples/orders/invalid-unknown-sku.json")
    assert r.code == 1, str(r)
    no_traceback(r)
    assert "WEB-BAD-0001" in r.err and "refused" in r.err, str(r)
    for problem in ("NO-SUCH-SKU", "quantity must be at least 1", "99999"):
        assert problem in r.err, (problem, str(r))
    assert (await stack.order("WEB-BAD-0001"))["status"] == "failed"


async def test_inventory_receive_adds_stock_once_per_reference(stack: DevStack) -> None:
    def at(view: dict[str, Any], node: str) -> int:
        on_hand: int = {r["node"]: r["on_hand"] for r in view["nodes"]}.get(node, 0)
        return on_hand

    before = (await stack.ok("inventory", "show", "HAMMOCK", "--json")).json()
    args = ["inventory", "receive", "wh-dallas", "HAMMOCK", "20", "--reference", "ASN-CLI-1"]
    first = (await stack.ok(*args)).json()
    assert first["applied"] is True and first["qty"] == 20
    again = (await stack.ok(*args)).json()
    assert again["applied"] is False
    after = (await stack.ok("inventory", "show", "HAMMOCK", "--json")).json()
    assert at(after, "wh-dallas") == at(before, "wh-dallas") + 20
    table = (await stack.ok("inventory", "show", "HAMMOCK")).out
    assert "wh-dallas" in table and "ATP" in table


async def test_setup_against_the_running_stack_is_idempotent(stack: DevStack) -> None:
    before = (await stack.ok("inventory", "show", "TENT-2P", "--json")).json()
    r = await stack.ok("setup")
    assert "database migrated and seeded (0 new positions)" in r.out, str(r)
    assert "search attributes" in r.out, str(r)
    # `dom dev` created every Schedule already, so setup finds each as it wants it.
    for what in ("cart hold sweep", "alert evaluation", "reconciliation"):
        assert re.search(rf"{what} schedule \S+: unchanged", r.out), (what, str(r))
    assert (await stack.ok("inventory", "show", "TENT-2P", "--json")).json() == before


async def test_bad_input_is_a_message_not_a_traceback(stack: DevStack, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"order_id": "X-1", "lines": [')
    # (arguments, message, exit code: 2 bad usage, 3 not found; docs/cli.md)
    cases: list[tuple[list[str], str, int]] = [
        (["order", "submit", str(tmp_path / "missing.json")], "cannot read", 2),
        (["order", "submit", str(broken)], "is not a valid order", 2),
        (["order", "show", "NOPE-404"], "NOPE-404 does not exist", 3),
        (["order", "cancel", "NOPE-404"], "NOPE-404", 3),
        (["order", "hold", "NOPE-404", "--reason", "x"], "NOPE-404", 3),
        (["order", "release", "NOPE-404"], "NOPE-404", 3),
        (
            ["shipment", "event", "--order", "NOPE-404", "--shipment", "S", "--type", "accepted"],
            "NOPE-404 does not exist",
            3,
        ),
        (["order", "cancel", "WEB-100002", "--line", "1:x"], "whole number", 2),
        (["inventory", "show", "NO-SUCH-SKU"], "no inventory positions", 3),
    ]
    results = await asyncio.gather(*(stack.dom(*args) for args, _, _ in cases))
    for (_, message, code), r in zip(cases, results, strict=True):
        assert r.code == code, str(r)
        no_traceback(r)
        assert message in r.err, (message, str(r))
    r = await stack.dom(
        "shipment", "event", "--order", "WEB-BAD-0001", "--shipment", "nope", "--type", "shipped"
    )
    assert r.code == 3 and "has no shipment nope" in r.err, str(r)


async def test_dom_dev_prints_and_saves_an_api_key_the_api_takes(stack: DevStack) -> None:
    path = stack.home / "api-key"
    key = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600
    assert key.startswith("dom_") and key in stack.output()
    url = f"http://127.0.0.1:{stack.api_port}/v1/inventory/BOOT-HIKE-9"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(url)).status_code == 401
        ok = await http.get(url, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200, ok.text
    listed = (await stack.ok("apikey", "list", "--json")).json()
    assert [k["name"] for k in listed] == ["dom-dev"] and listed[0]["last_used_at"]


async def test_order_list_filters_search_attributes(stack: DevStack, tmp_path: Path) -> None:
    order = example("web-standard.json")
    tag = uuid.uuid4().hex[:8]
    customer = f"C-LIST-{tag}"
    ids = [f"LIST-{tag}-{i}" for i in range(3)]
    for i, order_id in enumerate(ids):
        path = tmp_path / f"{i}.json"
        path.write_text(json.dumps({**order, "order_id": order_id, "customer": {"id": customer}}))
        await stack.ok("order", "submit", str(path), "--wait", "0")

    async def listed() -> dict[str, Any]:
        r = await stack.ok("order", "list", "--customer", customer, "--json")
        page: dict[str, Any] = r.json()
        return page

    page = await until(listed, lambda p: len(p["items"]) == 3, "3 orders listed", within=30)
    assert {o["order_id"] for o in page["items"]} == set(ids)
    assert {o["channel"] for o in page["items"]} == {order["channel"]}
    first = (
        await stack.ok("order", "list", "--customer", customer, "--limit", "2", "--json")
    ).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await stack.ok(
        "order", "list", "--customer", customer, "--limit", "2", "--cursor", first["next_cursor"]
    )
    assert "1 order" in rest.out and sum(i in rest.out for i in ids) == 1, str(rest)
    table = await stack.ok("order", "list", "--customer", customer, "--not-escalated")
    assert all(i in table.out for i in ids) and "3 orders" in table.out, str(table)
    bad = await stack.dom("order", "list", "--customer", "it's")
    assert bad.code == 2 and "not a valid id" in bad.err, str(bad)
    no_traceback(bad)
