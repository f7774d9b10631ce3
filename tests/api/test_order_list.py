"""GET /v1/orders: orders from Temporal visibility, filtered and paged, on the real dev server
(the time-skipping server has no visibility list: 503 there)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dom_workflows.order.models import OrderStatus
from tests.support.api import Api, assert_problem
from tests.support.until import until
from workers.order_search import (
    InvalidFilter,
    OrderFilters,
    decode_cursor,
    encode_cursor,
    visibility_query,
)


async def _list(api: Api, **params: Any) -> dict[str, Any]:
    r = await api.http.get("/v1/orders", params=params)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def _all_pages(api: Api, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        doc = await _list(api, **params, **({"cursor": cursor} if cursor else {}))
        items += doc["items"]
        cursor = doc["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("paging did not end")


async def test_lists_filters_and_pages_from_search_attributes(dev_api: Api) -> None:
    customer = f"C-{uuid.uuid4().hex[:10]}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = [
        await dev_api.submit(customer={"id": customer, "tier": "vip"}, channel=ch)
        for ch in ("web", "web", "marketplace", "web", "marketplace")
    ]
    mine = await until(
        lambda: _all_pages(dev_api, customer=customer, limit=200),
        lambda items: len(items) == 5,
        "the 5 orders in visibility",
    )
    assert {i["order_id"] for i in mine} == set(ids)
    one = next(i for i in mine if i["order_id"] == ids[2])
    assert one["workflow_id"] == f"order-{ids[2]}" and one["channel"] == "marketplace"
    assert one["customer_id"] == customer and one["tier"] == "vip" and one["value"] == "50.00"
    assert one["currency"] == "USD"
    assert one["status"] in {s.value for s in OrderStatus}
    assert one["started_at"] and one["escalated"] is False and one["backordered"] is False

    # Paging: 2 per page covers the same 5 orders once each, in the one-page order.
    paged = await _all_pages(dev_api, customer=customer, limit=2)
    assert [i["order_id"] for i in paged] == [i["order_id"] for i in mine]
    first = await _list(dev_api, customer=customer, limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert first["sort"] in {"start_time_desc", "server_default"}

    web = await _all_pages(dev_api, customer=customer, channel="web")
    assert sorted(i["order_id"] for i in web) == sorted(ids[i] for i in (0, 1, 3))
    assert len(await _all_pages(dev_api, customer=customer, escalated="false")) == 5
    assert await _all_pages(dev_api, customer=customer, escalated="true") == []
    assert await _all_pages(dev_api, customer=customer, backordered="true") == []
    # Statuses move on while the test runs: filter on all of them, on one, on ones never reached.
    everything = [s.value for s in OrderStatus]
    assert len(await _all_pages(dev_api, customer=customer, status=everything)) == 5
    one_status = mine[0]["status"]
    some = await _all_pages(dev_api, customer=customer, status=one_status)
    assert all(i["status"] == one_status and i["order_id"] in ids for i in some)
    assert await _all_pages(dev_api, customer=customer, status=["failed", "cancelled"]) == []
    assert len(await _all_pages(dev_api, customer=customer, created_from=before.isoformat())) == 5
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await _all_pages(dev_api, customer=customer, created_from=later) == []
    assert await _all_pages(dev_api, customer=customer, created_to=before.isoformat()) == []
    assert await _all_pages(dev_api, customer=f"{customer}-nobody") == []
    # A cursor is bound to its filters.
    r = await dev_api.http.get(
        "/v1/orders",
        params={"customer": customer, "channel": "web", "cursor": first["next_cursor"]},
    )
    assert_problem(r, 422, "other filters")


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"status": "lost"}, ("status",)),
        ({"created_from": "yesterday"}, ("created_from",)),
        ({"created_from": "2026-01-01T00:00:00"}, ("timezone",)),
        (
            {"created_from": "2026-02-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
            ("after created_to",),
        ),
        ({"customer": "x' OR WorkflowType != '"}, ("not a valid id",)),
        ({"node": "wh a"}, ("not a valid id",)),
        ({"escalated": "maybe"}, ("escalated",)),
        ({"limit": "0"}, ("limit",)),
        ({"limit": "201"}, ("limit",)),
        ({"cursor": "not-a-cursor"}, ("cursor",)),
    ],
)
async def test_bad_filters_are_422_problems(
    dev_api: Api, params: dict[str, str], needles: tuple[str, ...]
) -> None:
    assert_problem(await dev_api.http.get("/v1/orders", params=params), 422, *needles)


async def test_without_visibility_it_is_a_503(api: Api) -> None:
    r = await api.http.get("/v1/orders")
    assert_problem(r, 503, "cannot list workflows")


def test_every_value_is_validated_and_quoted() -> None:
    q = visibility_query(
        OrderFilters(
            status=[OrderStatus.ROUTED, OrderStatus.ROUTED, OrderStatus.ON_HOLD],
            channel="web",
            customer="C-1@x",
            node="wh-columbus",
            escalated=False,
            backordered=True,
            created_from=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
    )
    assert q == (
        "WorkflowType = 'OrderWorkflow' AND OrderStatus IN ('routed', 'on_hold') AND "
        "SalesChannel = 'web' AND CustomerId = 'C-1@x' AND FulfillmentNodes = 'wh-columbus' AND "
        "(Escalated = false OR Escalated IS NULL) AND Backordered = true AND "
        "StartTime >= '2026-01-02T03:04:05.000000Z'"
    )
    for bad in ("a'b", 'a"b', "a\\b", "", "a b", "x" * 129, "-lead"):
        with pytest.raises(InvalidFilter):
            visibility_query(OrderFilters(customer=bad))
    cursor = encode_cursor(q, "server_default", b'{"CloseTime":"x"}')
    assert "=" not in cursor.rstrip("=") and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor, q) == ("server_default", b'{"CloseTime":"x"}')
    with pytest.raises(InvalidFilter, match="other filters"):
        decode_cursor(cursor, q + " AND x")
