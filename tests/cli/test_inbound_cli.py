"""`dom inventory inbound ...` against a real `dom dev`: an order that cannot be filled is dated
by a new PO (`add`), shows the date in `dom order show`, moves with `delay`, and ships the units
after `receive`; bad input is a message, never a traceback, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.devstack import DevStack, Result
from tests.support.until import until

pytestmark = pytest.mark.devserver
SKU = "HAMMOCK"  # light, and stocked at a few nodes: an order of all of it is backordered


def no_traceback(r: Result) -> None:
    assert "Traceback" not in r.output and 'File "' not in r.output, str(r)


def backordered(state: dict[str, Any]) -> int:
    return sum(ln["backordered"] for ln in state["lines"])


async def test_a_po_dates_a_backorder_and_its_arrival_ships_it(
    stack: DevStack, tmp_path: Path
) -> None:
    view = (await stack.ok("inventory", "show", SKU, "--json")).json()
    order_id = "WEB-INBOUND-1"
    body = json.loads(Path("examples/orders/web-standard.json").read_text())
    body.update(order_id=order_id)
    body["lines"] = [{**body["lines"][0], "sku": SKU, "qty": view["total_atp"] + 4}]
    path = tmp_path / "order.json"
    path.write_text(json.dumps(body))
    await stack.ok("order", "submit", str(path))
    state = await until(
        lambda: stack.order(order_id),
        lambda s: bool(s["backorders"]),
        "the order backordered",
        within=30,
        interval=0.2,
    )
    waiting = backordered(state)
    assert waiting >= 4 and [b["expected_at"] for b in state["backorders"]] == [None]

    added = await stack.ok(
        "inventory", "inbound", "add", "PO-CLI-1", "wh-dallas", SKU, str(waiting),
        "--expected", "2031-05-01T12:00:00Z", "--source", "Acme Boards",
    )  # fmt: skip
    assert added.json()["applied"] is True and added.json()["told"] == [order_id]
    await until(
        lambda: stack.order(order_id),
        lambda s: [(b["inbound"], b["qty"]) for b in s["backorders"]] == [("PO-CLI-1", waiting)],
        "the order dated by the PO",
        within=30,
        interval=0.2,
    )
    shown = (await stack.ok("order", "show", order_id)).out
    assert "PO-CLI-1" in shown and "2031-05-01" in shown
    listed = (await stack.ok("inventory", "inbound", "list", "--sku", SKU, "--json")).json()
    assert [(i["id"], i["allocated"], i["available"]) for i in listed] == [("PO-CLI-1", waiting, 0)]
    table = (await stack.ok("inventory", "show", SKU)).out
    assert "On its way" in table and "PO-CLI-1" in table

    await stack.ok("inventory", "inbound", "delay", "PO-CLI-1", "2031-06-02T09:00:00+00:00")
    await until(
        lambda: stack.order(order_id),
        lambda s: [b["expected_at"][:10] for b in s["backorders"]] == ["2031-06-02"],
        "the late date on the order",
        within=30,
        interval=0.2,
    )

    got = (await stack.ok("inventory", "inbound", "receive", "PO-CLI-1")).json()
    assert got["reserved_units"] == waiting and got["told"] == [order_id]
    state = await until(
        lambda: stack.order(order_id),
        lambda s: backordered(s) == 0 and not s["backorders"],
        "the arrived units routed",
        within=30,
        interval=0.2,
    )
    assert (
        sum(sl["qty"] for sh in state["shipments"] for sl in sh["lines"]) == body["lines"][0]["qty"]
    )
    again = (await stack.ok("inventory", "inbound", "receive", "PO-CLI-1")).json()
    assert again["applied"] is False


async def test_bad_inbound_input_is_a_message_not_a_traceback(stack: DevStack) -> None:
    cases: list[tuple[list[str], str]] = [
        (["add", "PO-X", "nowhere", SKU, "1", "--expected", "2031-05-01T00:00:00Z"], "nowhere"),
        (["add", "PO-X", "wh-reno", "NOPE", "1", "--expected", "2031-05-01T00:00:00Z"], "NOPE"),
        (["add", "PO-X", "wh-reno", SKU, "1", "--expected", "2031-05-01"], "no timezone"),
        (["add", "PO-X", "wh-reno", SKU, "1", "--expected", "soon"], "not an ISO 8601"),
        (["add", "PO-X", "wh-reno", SKU, "1", "--expected", "2031-05-01T00:00Z", "--kind", "x"], "kind"),
        (["receive", "PO-NOPE"], "PO-NOPE"),
        (["delay", "PO-NOPE", "2031-05-01T00:00:00Z"], "PO-NOPE"),
        (["cancel", "PO-NOPE"], "PO-NOPE"),
    ]  # fmt: skip
    for args, message in cases:
        r = await stack.dom("inventory", "inbound", *args)
        assert r.code != 0, str(r)
        no_traceback(r)
        assert message in r.err, (message, str(r))
    listed = (await stack.ok("inventory", "inbound", "list", "--json")).json()
    assert "PO-X" not in [i["id"] for i in listed]
