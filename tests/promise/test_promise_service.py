"""Promises: planned by the order's router on the live ledger, dated by the node's calendar, and
taken by the order that follows them."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from activities.inventory.activities import InventoryActivities
from activities.inventory.db import utcnow
from activities.inventory.node_settings import update_node_settings
from activities.order.activities import OrderActivities
from activities.promise.service import WEEKDAYS, PromiseInvalid, PromiseService
from dom_workflows.common.models import Address, Customer
from dom_workflows.config import Settings
from dom_workflows.inventory.models import (
    OrderToRoute,
    ReleaseInput,
    ReserveAndRouteInput,
    SourcingLine,
)
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.order.models import OrderLine, OrderRequest
from dom_workflows.promise.models import PromiseRequest
from dom_workflows.routing import load_policy

# Tuesday 1 December 2026; Dallas is UTC-6 in winter.
BEFORE_CUTOFF = datetime(2026, 12, 1, 21, 55, tzinfo=UTC)  # 15:55 in Dallas
AFTER_CUTOFF = datetime(2026, 12, 1, 22, 5, tzinfo=UTC)  # 16:05 in Dallas


def service(engine: AsyncEngine, network: Network) -> PromiseService:
    return PromiseService(engine, network, load_policy(Settings().policy_path))


def cart(
    lines: list[tuple[str, int]], zip_code: str = "75201", services: list[str] | None = None
) -> PromiseRequest:
    return PromiseRequest.model_validate(
        {
            "lines": [{"sku": s, "qty": q} for s, q in lines],
            "destination": {"zip": zip_code},
            "service_levels": services or ["ground"],
        }
    )


async def test_a_promise_before_the_cut_off_ships_a_day_earlier(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    promises = service(sqlite_engine, network)
    early = (await promises.quote(cart([("PAD-SLEEP", 1)]), BEFORE_CUTOFF)).options[0]
    late = (await promises.quote(cart([("PAD-SLEEP", 1)]), AFTER_CUTOFF)).options[0]
    assert [s.node for s in early.shipments] == ["wh-dallas"] == [s.node for s in late.shipments]
    assert early.fulfillable == "full"
    assert early.ship_by == datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 16:00 Dallas, today
    assert late.ship_by == datetime(2026, 12, 2, 22, 0, tzinfo=UTC)  # 16:00 Dallas, tomorrow
    assert early.ship_by is not None and early.ship_by.utcoffset() == timedelta(hours=-6)
    # Ground to zone 1 is one carrier day; the window's late end adds the ground spread (1).
    assert (early.delivery_earliest, early.delivery_latest) == (
        date(2026, 12, 2),
        date(2026, 12, 3),
    )
    assert (late.delivery_earliest, late.delivery_latest) == (date(2026, 12, 3), date(2026, 12, 4))


async def test_a_friday_evening_promise_ships_monday_and_skips_the_weekend(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    friday_evening = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # 17:30 in Dallas
    option = (
        await service(sqlite_engine, network).quote(cart([("PAD-SLEEP", 1)]), friday_evening)
    ).options[0]
    assert option.ship_by == datetime(2026, 12, 7, 22, 0, tzinfo=UTC)  # Monday's cut-off
    assert option.delivery_earliest == date(2026, 12, 8)


async def test_each_service_level_is_quoted_with_its_own_transit_and_cost(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    answer = await service(sqlite_engine, network).quote(
        cart([("TENT-4P", 1)], "10118", ["ground", "express", "overnight"]), BEFORE_CUTOFF
    )
    by = {o.service_level: o for o in answer.options}
    assert set(by) == {"ground", "express", "overnight"}
    assert by["overnight"].delivery_earliest is not None
    assert by["ground"].delivery_earliest is not None
    assert by["overnight"].delivery_earliest < by["ground"].delivery_earliest
    assert by["overnight"].shipping_cost.amount > by["ground"].shipping_cost.amount
    for option in by.values():
        assert option.total_cost.currency == "USD"
        assert option.explanation.summary


async def test_a_cart_larger_than_the_network_is_partly_promised(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    option = (
        await service(sqlite_engine, network).quote(cart([("SUP-BOARD", 65)], "97201"))
    ).options[0]
    assert option.fulfillable == "partial"
    assert sum(ln.qty for s in option.shipments for ln in s.lines) == 60
    assert [(u.sku, u.qty) for u in option.unavailable] == [("SUP-BOARD", 5)]


async def test_units_not_on_hand_are_promised_from_stock_on_its_way(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    arrives = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
    sooner = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    async with sqlite_engine.begin() as conn:
        for inbound_id, expected, qty, received, allocated in (
            ("PO-7", arrives, 10, 1, 2),  # 1 already received, 2 pre-sold: 7 left to promise
            ("PO-8", sooner, 3, 0, 0),
        ):
            await conn.execute(
                schema.inbound_supply.insert().values(
                    id=inbound_id,
                    kind="po",
                    node_id="ds-portland",
                    sku="SUP-BOARD",
                    qty=qty,
                    received=received,
                    allocated=allocated,
                    expected_at=expected,
                    status="open",
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
    option = (
        await service(sqlite_engine, network).quote(
            cart([("SUP-BOARD", 72)], "97201"), BEFORE_CUTOFF
        )
    ).options[0]
    assert option.fulfillable == "partial"
    # The earliest arrival first; only what nobody has pre-ordered or received.
    assert [(x.inbound_id, x.qty) for x in option.later] == [("PO-8", 3), ("PO-7", 7)]
    assert option.later[0].ship_by >= sooner and option.later[1].ship_by >= arrives
    assert option.later[0].delivery_earliest < option.later[1].delivery_earliest
    assert option.delivery_latest == option.later[1].delivery_latest
    assert [(u.sku, u.qty) for u in option.unavailable] == [("SUP-BOARD", 2)]


async def test_a_pickup_cart_is_quoted_as_pickup_at_the_store(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    req = PromiseRequest.model_validate(
        {"lines": [{"sku": "HAMMOCK", "qty": 2}], "destination": {"pickup_node": "store-nyc"}}
    )
    option = (await service(sqlite_engine, network).quote(req, BEFORE_CUTOFF)).options[0]
    assert option.service_level == "pickup"
    assert [(s.node, s.service) for s in option.shipments] == [("store-nyc", "pickup")]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"lines": [{"sku": "NOPE", "qty": 1}], "destination": {"zip": "75201"}}, "NOPE"),
        ({"lines": [{"sku": "TENT-4P", "qty": 1}], "destination": {"zip": "00000"}}, "00000"),
        (
            {
                "lines": [{"sku": "TENT-4P", "qty": 1}],
                "destination": {"zip": "75201"},
                "service_levels": ["teleport"],
            },
            "teleport",
        ),
        (
            {"lines": [{"sku": "TENT-4P", "qty": 1}], "destination": {"pickup_node": "wh-reno"}},
            "pickup",
        ),
    ],
)
async def test_a_promise_for_what_the_network_lacks_says_what(
    sqlite_engine: AsyncEngine, network: Network, body: dict[str, object], needle: str
) -> None:
    with pytest.raises(PromiseInvalid, match=needle):
        await service(sqlite_engine, network).quote(PromiseRequest.model_validate(body))


async def test_the_cache_serves_a_repeat_until_the_stock_moves(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    promises = service(ledger_engine, network)
    req = cart([("HAMMOCK", 3)], "60601")
    first = await promises.quote(req, BEFORE_CUTOFF)
    again = await promises.quote(req, BEFORE_CUTOFF)
    assert (first.cache, again.cache) == ("miss", "hit")
    assert again.options == first.options
    # The promised node sells out: the next promise must see it, not the cached plan.
    node = first.options[0].shipments[0].node
    async with ledger_engine.begin() as conn:
        (position,) = [p for p in await ledger.read_positions(conn, ["HAMMOCK"]) if p.node == node]
        await ledger.reserve(
            conn, "other-order", 1, [ledger.Allocation("x", node, "HAMMOCK", "1", position.atp)]
        )
    after = await promises.quote(req, BEFORE_CUTOFF)
    assert after.cache == "miss"
    assert node not in [s.node for s in after.options[0].shipments]
    # And a bypass plans afresh even when nothing moved.
    assert (await promises.quote(req, BEFORE_CUTOFF, use_cache=False)).cache == "miss"
    await ledger.release(
        ledger_engine, ReleaseInput(order_id="other-order", idempotency_key="k", reason="test")
    )
    back = await promises.quote(req, BEFORE_CUTOFF)
    assert back.cache == "miss" and back.options[0].shipments[0].node == node


ZIPS = ["10118", "60601", "75201", "89501", "33101", "90012", "97201", "43215", "02108", "80202"]


async def order_input(
    validator: OrderActivities, req: PromiseRequest, order_id: str, now: datetime
) -> ReserveAndRouteInput:
    """What the order workflow would route for a storefront order of the promised cart: its own
    validation (geocoding) and its own routing input (see order/routing.py), not the promise's."""
    catalog = validator.network.sku_map()
    assert req.destination.zip is not None
    order = OrderRequest(
        order_id=order_id,
        customer=Customer(id="C-1", tier=req.customer_tier),
        lines=[
            OrderLine(
                line_id=ln.line_id or str(i),
                sku=ln.sku,
                qty=ln.qty,
                unit_price=Money(amount=catalog[ln.sku].price),
            )
            for i, ln in enumerate(req.lines, 1)
        ],
        ship_to=Address(name="T", line1="1 Main St", city="X", zip=req.destination.zip),
        service_level=req.service_levels[0],
    )
    return ReserveAndRouteInput(
        order=OrderToRoute.of(order),
        destination=await validator.validate_order(order),
        attempt=1,
        lines=[
            SourcingLine(
                line_id=ln.line_id, sku=ln.sku, qty=ln.qty, unit_price=ln.unit_price.amount
            )
            for ln in order.lines
        ],
        weekday=WEEKDAYS[now.weekday()],
    )


async def test_orders_placed_right_after_a_promise_take_the_promised_plan(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    """Random carts, destinations, tiers and services: each order is validated and reserved by
    the order's own activities right after its promise, and must get the promised shipments."""
    promises = service(ledger_engine, network)
    orders = InventoryActivities(ledger_engine, network, load_policy(Settings().policy_path))
    validator = OrderActivities(ledger_engine, network)
    rng = random.Random(10)
    skus = [s.sku for s in network.skus]
    agreed = pairs = 0
    for n in range(120):
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(1, 3))]
        req = PromiseRequest.model_validate(
            {
                "lines": [
                    {"sku": s, "qty": q, "line_id": str(i)} for i, (s, q) in enumerate(lines)
                ],
                "destination": {"zip": rng.choice(ZIPS)},
                "service_levels": [rng.choice(["ground", "express"])],
                "customer_tier": rng.choice(["standard", "standard", "vip"]),
            }
        )
        now = datetime.now(UTC)
        option = (await promises.quote(req, now)).options[0]
        result = await orders.reserve_and_route(await order_input(validator, req, f"P-{n}", now))
        promised = sorted((s.node, ln.sku, ln.qty) for s in option.shipments for ln in s.lines)
        routed = sorted((f.node, ln.sku, ln.qty) for f in result.fulfillments for ln in f.lines)
        pairs += 1
        agreed += promised == routed
    assert agreed == pairs, f"{agreed}/{pairs} orders took the promised plan"


async def test_a_full_node_is_left_out_of_the_promise_with_its_capacity(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    promises = service(ledger_engine, network)
    req = cart([("PAD-SLEEP", 1)])
    before = (await promises.quote(req, BEFORE_CUTOFF)).options[0]
    assert [s.node for s in before.shipments] == ["wh-dallas"]
    await update_node_settings(
        ledger_engine, "wh-dallas", {"capacity": {"limit": 0, "unit": "orders"}}, "test"
    )
    after = (await promises.quote(req, BEFORE_CUTOFF)).options[0]
    assert after.shipments and "wh-dallas" not in [s.node for s in after.shipments]
    reasons = [x.reason for x in after.explanation.excluded if x.node == "wh-dallas"]
    assert reasons == ["capacity: 0/0 orders today"]


async def test_ops_moving_a_cut_off_moves_the_next_promise(
    sqlite_engine: AsyncEngine, network: Network
) -> None:
    promises = service(sqlite_engine, network)
    req = cart([("PAD-SLEEP", 1)])
    assert (await promises.quote(req, BEFORE_CUTOFF)).options[0].ship_by == datetime(
        2026, 12, 1, 22, 0, tzinfo=UTC
    )
    await update_node_settings(sqlite_engine, "wh-dallas", {"cutoff": "15:30"}, "test")
    moved = (await promises.quote(req, BEFORE_CUTOFF)).options[0]
    assert moved.ship_by == datetime(2026, 12, 2, 21, 30, tzinfo=UTC)  # 15:30 Dallas, tomorrow
