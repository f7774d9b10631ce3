"""An order checked out from a cart turns the cart's hold into its reservation exactly once, in
the transaction that reserves it: no double count, no moment in which the units are free, and a
retried, duplicated or concurrent submission converts at most once. Both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.inventory import holds, ledger, schema
from activities.inventory.verify import verify
from dom_workflows.carts.models import CartDestination, CartLine
from dom_workflows.inventory.models import CloseOrderInput, ReserveAndRouteResult
from dom_workflows.network import Network
from tests.support.holds import (
    CONTESTED,
    NEW_YORK,
    add_sku,
    cart_order,
    inventory,
    totals,
    with_sku,
)


def now() -> datetime:
    return datetime.now(UTC)


async def hold(
    engine: AsyncEngine, cart_id: str, qty: int, *, channel: str = "web", at: datetime | None = None
) -> holds.CartHold:
    made, _ = await holds.place_hold(
        engine, cart_id, channel, [CartLine(sku=CONTESTED, qty=qty)], None, 15, at or now()
    )
    return made


def units(result: ReserveAndRouteResult) -> int:
    return sum(ln.qty for f in result.fulfillments for ln in f.lines)


async def route(
    engine: AsyncEngine,
    network: Network,
    order_id: str,
    lines: list[tuple[str, int]],
    cart_id: str | None,
    *,
    channel: str = "web",
) -> ReserveAndRouteResult:
    acts = inventory(engine, network)
    order = cart_order(order_id, lines, cart_id, channel=channel)
    for _ in range(20):  # what Temporal's retry policy would do on a ReservationConflict
        try:
            return await acts.reserve_and_route(order)
        except ApplicationError as e:
            assert e.type == "ReservationConflict", e
    raise AssertionError(f"{order_id} kept conflicting: the ledger never let it reserve")


async def feed(engine: AsyncEngine) -> list[tuple[int, str]]:
    """The availability change feed of the SKU: (ATP, cause) per change, oldest first."""
    changes = schema.availability_changes
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(changes.c.atp, changes.c.cause)
            .where(changes.c.sku == CONTESTED)
            # id: insert order (seq is given later, by availability.sequence, once committed)
            .order_by(changes.c.id)
        )
        return [(r.atp, r.cause) for r in rows]


async def movement_kinds(engine: AsyncEngine, cart_id: str) -> list[str]:
    m = schema.movements
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(m.c.kind).where(m.c.reference == cart_id))
        return sorted(rows.scalars())


async def test_the_hold_becomes_the_reservation_with_no_change_to_atp(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine)
    # Held for the order's destination, so the order's plan keeps the held node.
    made, _ = await holds.place_hold(
        ledger_engine,
        "cart-a",
        "web",
        [CartLine(sku=CONTESTED, qty=4)],
        CartDestination(zip=NEW_YORK["zip"]),
        15,
        now(),
        network=with_sku(network),
        policy=inventory(ledger_engine, network).policy,
    )
    before = await ledger.atp_view(ledger_engine, CONTESTED)
    feed_before = await feed(ledger_engine)
    routed = await route(ledger_engine, network, "ORD-A", [(CONTESTED, 4)], "cart-a")
    after = await ledger.atp_view(ledger_engine, CONTESTED)
    # Not even the availability feed saw the units free: no change was published at all (a
    # release committed before the reservation would have published ATP 50, then 46).
    assert await feed(ledger_engine) == feed_before
    assert units(routed) == 4 and not routed.backordered
    # The units went from held to reserved: what everyone else sees did not move, per node.
    assert {r.node: r.atp for r in after.nodes} == {r.node: r.atp for r in before.nodes}
    assert after.total_atp == before.total_atp == 46
    assert (after.total_held, after.total_reserved) == (0, 4)
    converted = await holds.get_hold(ledger_engine, "cart-a")
    assert converted is not None
    assert (converted.status, converted.order_id) == ("converted", "ORD-A")
    # The plan kept the held node.
    assert [f.node for f in routed.fulfillments] == [ln.node for ln in made.lines]
    assert await movement_kinds(ledger_engine, "cart-a") == ["hold", "hold-convert"]
    t = await totals(ledger_engine)
    assert (t["held"], t["reserved"], t["in_reservation_rows"]) == (0, 4, 4)
    assert await verify(ledger_engine) == []


async def test_units_held_by_the_cart_alone_go_to_its_order(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    """Every unit of the SKU is in the cart: without the conversion the order would backorder."""
    await add_sku(ledger_engine, stock={"wh-columbus": 3})
    await hold(ledger_engine, "all-of-it", 3)
    routed = await route(ledger_engine, network, "ORD-ALL", [(CONTESTED, 3)], "all-of-it")
    assert units(routed) == 3 and not routed.backordered


async def test_a_retried_order_converts_once_and_returns_its_plan(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine)
    await hold(ledger_engine, "cart-r", 2)
    first = await route(ledger_engine, network, "ORD-R", [(CONTESTED, 2)], "cart-r")
    again = await route(ledger_engine, network, "ORD-R", [(CONTESTED, 2)], "cart-r")
    assert again == first
    t = await totals(ledger_engine)
    assert (t["held"], t["reserved"]) == (0, 2)
    assert await movement_kinds(ledger_engine, "cart-r") == ["hold", "hold-convert"]


async def test_a_second_order_with_the_same_cart_routes_against_atp(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine, stock={"wh-columbus": 5})
    await hold(ledger_engine, "cart-d", 3)
    await route(ledger_engine, network, "ORD-D1", [(CONTESTED, 3)], "cart-d")
    dup = await route(ledger_engine, network, "ORD-D2", [(CONTESTED, 3)], "cart-d")
    # Only the 2 free units: the cart's 3 are ORD-D1's, not counted again.
    assert units(dup) == 2 and [b.qty for b in dup.backordered] == [1]
    converted = await holds.get_hold(ledger_engine, "cart-d")
    assert converted is not None and converted.order_id == "ORD-D1"
    t = await totals(ledger_engine)
    assert (t["held"], t["reserved"], t["on_hand"]) == (0, 5, 5)
    assert await verify(ledger_engine) == []


async def test_concurrent_orders_on_one_cart_convert_it_once(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine, stock={"wh-columbus": 4})
    await hold(ledger_engine, "cart-c", 4)
    results = await asyncio.gather(
        *(route(ledger_engine, network, f"ORD-C{i}", [(CONTESTED, 4)], "cart-c") for i in range(8))
    )
    assert sorted(units(r) for r in results) == [0] * 7 + [4]
    winner = next(r.order_id for r in results if units(r) == 4)
    converted = await holds.get_hold(ledger_engine, "cart-c")
    assert converted is not None and converted.order_id == winner
    t = await totals(ledger_engine)
    assert (t["held"], t["reserved"], t["over_committed_positions"]) == (0, 4, 0)
    assert await movement_kinds(ledger_engine, "cart-c") == ["hold", "hold-convert"]


async def test_no_other_order_gets_the_units_while_the_cart_converts(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    """The cart holds every unit; its order races strangers who keep ordering until it is
    done. If the units were ever free between leaving `held` and entering `reserved`, a
    stranger would take some."""
    await add_sku(ledger_engine, stock={"wh-columbus": 6})
    for round_ in range(3):
        cart = f"cart-gap-{round_}"
        await hold(ledger_engine, cart, 6)
        done = asyncio.Event()

        async def stranger(i: int, round_: int = round_, done: asyncio.Event = done) -> int:
            got, n = 0, 0
            while not done.is_set():
                r = await route(
                    ledger_engine, network, f"S-{round_}-{i}-{n}", [(CONTESTED, 1)], None
                )
                got, n = got + units(r), n + 1
            return got

        async def mine(cart: str = cart, round_: int = round_, done: asyncio.Event = done) -> int:
            try:
                await asyncio.sleep(0.02)  # the strangers are already at it
                r = await route(ledger_engine, network, f"MINE-{round_}", [(CONTESTED, 6)], cart)
                return units(r)
            finally:
                done.set()

        got = await asyncio.gather(mine(), *(stranger(i) for i in range(8)))
        assert got == [6] + [0] * 8
        # Give the units back for the next round (the order would ship or cancel).
        await ledger.close_order(
            ledger_engine, CloseOrderInput(order_id=f"MINE-{round_}", status="cancelled")
        )
    assert await verify(ledger_engine) == []


async def test_only_an_active_hold_of_the_orders_channel_converts(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine, stock={"wh-columbus": 4})
    await hold(ledger_engine, "shop-cart", 2, channel="shopify")
    web = await route(ledger_engine, network, "ORD-WEB", [(CONTESTED, 2)], "shop-cart")
    assert units(web) == 2  # the 2 free units; the shopify cart's 2 stay held
    still = await holds.get_hold(ledger_engine, "shop-cart")
    assert still is not None and still.status == "active"
    await holds.release_hold(ledger_engine, "shop-cart", now())
    released = await route(
        ledger_engine, network, "ORD-SHOP", [(CONTESTED, 2)], "shop-cart", channel="shopify"
    )
    assert units(released) == 2  # free ATP, but the released hold did not convert
    after = await holds.get_hold(ledger_engine, "shop-cart")
    assert after is not None and (after.status, after.order_id) == ("released", None)


async def test_a_hold_past_expiry_not_yet_swept_still_converts(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine, stock={"wh-columbus": 2})
    await hold(ledger_engine, "late-cart", 2, at=now() - timedelta(minutes=20))
    routed = await route(ledger_engine, network, "ORD-LATE", [(CONTESTED, 2)], "late-cart")
    assert units(routed) == 2
    assert (await holds.expire_holds(ledger_engine, now())).expired_holds == 0
    t = await totals(ledger_engine)
    assert (t["held"], t["reserved"]) == (0, 2)
