"""The pure bookkeeping of an order (src/dom_workflows/order/state.py) without a server:
unit accounting, cancellation arithmetic and refusals, status derivation, the UI details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dom_workflows.common.models import ShipmentLine
from dom_workflows.common.text import count, units
from dom_workflows.money import Money
from dom_workflows.order import state as bk
from dom_workflows.order.models import (
    CancelLine,
    CancelRequest,
    Hold,
    LineState,
    NodeSlaTimes,
    OrderState,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    TimelineEvent,
)

SLA = NodeSlaTimes(
    accept_within=timedelta(hours=1),
    ship_within=timedelta(hours=4),
    deliver_within=timedelta(days=5),
)


def order(*lines: tuple[str, int], shipments: list[Shipment] | None = None) -> OrderState:
    return OrderState(
        order_id="O-1",
        workflow_id="order-O-1",
        status=OrderStatus.RECEIVED,
        channel="web",
        customer_id="C-1",
        customer_tier="standard",
        order_value=Money(amount=Decimal("10.00")),
        lines=[
            LineState(line_id=str(i + 1), sku=sku, qty=qty, unit_price=Money(amount=Decimal("5")))
            for i, (sku, qty) in enumerate(lines)
        ],
        shipments=shipments or [],
    )


def shipment(node: str, status: ShipmentStatus, *lines: tuple[str, str, int]) -> Shipment:
    return Shipment(
        shipment_id=f"O-1:1:{node}",
        node=node,
        node_type="warehouse",
        lines=[ShipmentLine(line_id=lid, sku=sku, qty=q) for lid, sku, q in lines],
        service="ground",
        route_attempt=1,
        sla=SLA,
        status=status,
    )


def test_pending_units_are_what_no_node_has_and_nobody_cancelled() -> None:
    st = order(("A", 5))
    ln = st.lines[0]
    ln.allocated, ln.backordered, ln.cancelled = 2, 1, 1
    assert bk.pending_units(ln) == 1
    ln.shipped = 2
    assert bk.cancellable_units(st, ln) == 2  # 5 ordered - 1 cancelled - 2 shipped


def test_a_whole_order_cancel_takes_every_unit_not_yet_shipped() -> None:
    st = order(("A", 3), ("B", 2))
    st.lines[0].shipped = 1
    plan, refusal = bk.cancellation_plan(st, CancelRequest())
    assert refusal is None and plan == {"1": 2, "2": 2}


@pytest.mark.parametrize(
    ("req", "says"),
    [
        (CancelRequest(lines=[CancelLine(line_id="9")]), "has no line '9'"),
        (CancelRequest(lines=[CancelLine(line_id="1", qty=0)]), "must be at least 1"),
        (CancelRequest(lines=[CancelLine(line_id="1", qty=4)]), "4 units requested but only 3"),
    ],
)
def test_a_cancel_that_cannot_be_done_is_refused_with_the_reason(
    req: CancelRequest, says: str
) -> None:
    plan, refusal = bk.cancellation_plan(order(("A", 3)), req)
    assert plan == {} and refusal is not None and says in refusal


def test_nothing_left_to_cancel_and_ended_orders_are_refused() -> None:
    st = order(("A", 1))
    st.lines[0].shipped = 1
    assert "start a return instead" in (bk.cancellation_plan(st, CancelRequest())[1] or "")
    st.status = OrderStatus.COMPLETED
    assert bk.cancellation_plan(st, CancelRequest())[1] == "order O-1 is already completed"


def test_two_cancel_lines_for_one_line_add_up() -> None:
    req = CancelRequest(lines=[CancelLine(line_id="1", qty=1), CancelLine(line_id="1", qty=1)])
    assert bk.cancellation_plan(order(("A", 3)), req) == ({"1": 2}, None)


@pytest.mark.parametrize(
    ("shipments", "shipped", "expected"),
    [
        ([], 0, OrderStatus.RECEIVED),
        ([("n1", ShipmentStatus.REQUESTED)], 0, OrderStatus.ROUTED),
        ([("n1", ShipmentStatus.ACCEPTED)], 0, OrderStatus.FULFILLING),
        (
            [("n1", ShipmentStatus.SHIPPED), ("n2", ShipmentStatus.REQUESTED)],
            1,
            OrderStatus.PARTIALLY_SHIPPED,
        ),
        ([("n1", ShipmentStatus.SHIPPED)], 2, OrderStatus.SHIPPED),
        ([("n1", ShipmentStatus.REJECTED)], 0, OrderStatus.RECEIVED),
    ],
)
def test_the_status_follows_the_shipments(
    shipments: list[tuple[str, ShipmentStatus]], shipped: int, expected: OrderStatus
) -> None:
    st = order(("A", 2), shipments=[shipment(n, s, ("1", "A", 1)) for n, s in shipments])
    st.lines[0].shipped = shipped
    assert bk.derive_status(st) == expected


def test_a_hold_shows_over_everything_but_an_ended_order() -> None:
    st = order(("A", 1), shipments=[shipment("n1", ShipmentStatus.ACCEPTED, ("1", "A", 1))])
    st.holds = [Hold(kind="manual", reason="check", placed_at="2026-01-01T00:00:00Z")]
    assert bk.derive_status(st) == OrderStatus.ON_HOLD
    st.status = OrderStatus.CANCELLED
    assert bk.derive_status(st) == OrderStatus.CANCELLED


def test_active_nodes_leave_out_dead_shipments_and_are_sorted() -> None:
    st = order(
        ("A", 3),
        shipments=[
            shipment("wh-b", ShipmentStatus.ACCEPTED, ("1", "A", 1)),
            shipment("wh-c", ShipmentStatus.REJECTED, ("1", "A", 1)),
            shipment("wh-a", ShipmentStatus.SHIPPED, ("1", "A", 1)),
        ],
    )
    assert bk.active_nodes(st) == ["wh-a", "wh-b"]


def test_the_ui_details_show_lines_shipments_escalations_and_the_stop_reason() -> None:
    st = order(("A", 1), shipments=[shipment("wh-a", ShipmentStatus.SHIPPED, ("1", "A", 1))])
    st.escalations = ["wh-a late"]
    st.stop_reason = "every unit was cancelled"
    md = bk.details_markdown(st)
    assert "line  sku  qty  shipped  delivered  backordered  cancelled" in md
    assert (
        "shipment    node  status   carrier  tracking" in md and "O-1:1:wh-a  wh-a  shipped" in md
    )
    assert "- wh-a late" in md and "**Stopped:** every unit was cancelled" in md


def test_the_ui_details_tables_are_aligned_code_blocks_not_github_tables() -> None:
    """The UI draws GitHub tables without cell padding ("qtyshippeddelivered"); a code block keeps
    its columns: every row of a block is as wide as its header, numbers right-aligned."""
    st = order(("BOOT-HIKE-9", 12), ("A", 1))
    md = bk.details_markdown(st)
    assert "|---" not in md and "| line |" not in md
    block = md.split("```")[1].strip("\n").splitlines()
    assert block[0].split() == ["line", "sku", "qty", "shipped", "delivered", "backordered",
                                "cancelled"]  # fmt: skip
    qty_end = block[0].index("qty") + len("qty")
    assert [row[qty_end - 2 : qty_end] for row in block[1:]] == ["12", " 1"]


def test_the_ui_details_name_the_signal_or_update_behind_the_latest_events() -> None:
    st = order(("A", 1), shipments=[shipment("wh-a", ShipmentStatus.REJECTED, ("1", "A", 1))])
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    events = [
        ("routed", "attempt 1"),
        ("rejected", "wh-a rejected 1 unit: no stock"),
        ("cancelled", "1 unit cancelled by cli: customer request"),
    ]
    st.timeline = [
        TimelineEvent(at=at + timedelta(seconds=i), kind=k, message=m)
        for i, (k, m) in enumerate(events)
    ]
    after = bk.details_markdown(st).split("**Latest events**")[1].splitlines()
    latest = [ln for ln in after if ln.startswith("- ")]
    assert latest[0].startswith("- 09:00:02 **cancelled** 1 unit cancelled by cli")
    assert "(Update `cancel`: " in latest[0] and "(signal `shipment_event`: " in latest[1]
    assert "signal" not in latest[2] and "Update" not in latest[2]  # routing is the order's own


def test_counts_read_as_english() -> None:
    assert (count(1, "line"), count(2, "line"), units(1), units(0)) == (
        "1 line",
        "2 lines",
        "1 unit",
        "0 units",
    )


def test_free_text_in_the_ui_details_is_not_read_as_markdown() -> None:
    """The UI renders $...$ as a formula and _x_ as italics: a routing summary with two prices
    and a name with underscores must show as written."""
    st = order(("A", 1))
    st.timeline = [
        TimelineEvent(
            at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            kind="routed",
            message="attempt 1: $10.38; cheapest alternative +$12.69 via store_nyc",
        )
    ]
    st.stop_reason = "refused: *not* a [link]"
    md = bk.details_markdown(st)
    assert r"attempt 1: \$10.38; cheapest alternative +\$12.69 via store\_nyc" in md
    assert r"**Stopped:** refused: \*not\* a \[link\]" in md
