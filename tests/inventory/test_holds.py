"""Cart holds in the ledger: held units leave ATP for everyone, a hold is all-or-nothing and
idempotent, a changed cart is swapped atomically, releases and expiry give units back once, and
500 concurrent carts on 50 units hold exactly 50 -- with orders racing them, never oversold --
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.inventory import holds, ledger, schema
from activities.inventory.feeds import apply_feed
from activities.inventory.outbound import record_unplanned_outbound
from activities.inventory.verify import verify
from dom_workflows.carts.models import CartDestination, CartHold, CartLine
from dom_workflows.network import Network
from dom_workflows.partners.models import InventoryFeed, InventoryItem
from tests.support.holds import (
    CONTESTED,
    NEW_YORK,
    STOCK,
    add_sku,
    cart_order,
    inventory,
    totals,
    with_sku,
)


def now() -> datetime:
    return datetime.now(UTC)


def lines(qty: int = 1, sku: str = CONTESTED) -> list[CartLine]:
    return [CartLine(sku=sku, qty=qty)]


async def hold(
    engine: AsyncEngine,
    cart_id: str,
    qty: int = 1,
    *,
    at: datetime | None = None,
    allow_partial: bool = False,
) -> CartHold:
    made, _ = await holds.place_hold(
        engine, cart_id, "web", lines(qty), None, 15, at or now(), allow_partial=allow_partial
    )
    return made


async def movement_kinds(engine: AsyncEngine, cart_id: str) -> list[str]:
    m = schema.movements
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(m.c.kind).where(m.c.reference == cart_id).order_by(m.c.id)
        )
        return list(rows.scalars())


async def test_held_units_leave_atp_and_show_as_held(ledger_engine: AsyncEngine) -> None:
    await add_sku(ledger_engine)
    made = await hold(ledger_engine, "cart-1", 7)
    assert made.status == "active" and made.units == 7
    # Without a destination the units come from the node with most ATP (reno and dallas tie
    # at 20; the tie goes to the first id).
    assert [(ln.node, ln.qty) for ln in made.lines] == [("wh-dallas", 7)]
    assert made.expires_at.tzinfo is not None
    view = await ledger.atp_view(ledger_engine, CONTESTED)
    assert (view.total_held, view.total_atp) == (7, 43)
    dallas = next(r for r in view.nodes if r.node == "wh-dallas")
    assert (dallas.held, dallas.atp, dallas.reserved) == (7, 13, 0)
    assert await movement_kinds(ledger_engine, "cart-1") == ["hold"]
    assert await verify(ledger_engine) == []


async def test_a_cart_that_cannot_be_held_in_full_is_refused_naming_the_sku(
    ledger_engine: AsyncEngine,
) -> None:
    await add_sku(ledger_engine)
    with pytest.raises(holds.HoldError) as refused:
        await hold(ledger_engine, "greedy", 51)
    assert refused.value.status == 409 and CONTESTED in refused.value.detail
    assert await holds.get_hold(ledger_engine, "greedy") is None
    assert (await totals(ledger_engine))["held"] == 0
    # allow_partial: what there is, and what is short.
    partial = await hold(ledger_engine, "greedy", 51, allow_partial=True)
    assert partial.units == 50 and [(s.sku, s.qty) for s in partial.short] == [(CONTESTED, 1)]
    assert sorted((ln.node, ln.qty) for ln in partial.lines) == sorted(STOCK.items())


async def test_an_unknown_sku_is_refused_and_nothing_changes(ledger_engine: AsyncEngine) -> None:
    await add_sku(ledger_engine)
    cart = [CartLine(sku=CONTESTED, qty=1), CartLine(sku="NO-SUCH-SKU", qty=1)]
    with pytest.raises(holds.HoldError) as refused:
        await holds.place_hold(ledger_engine, "c", "web", cart, None, 15, now())
    assert refused.value.status == 422 and "NO-SUCH-SKU" in refused.value.detail
    assert (await totals(ledger_engine))["held"] == 0
    assert await holds.get_hold(ledger_engine, "c") is None


async def test_the_same_cart_again_is_the_same_hold_extended(ledger_engine: AsyncEngine) -> None:
    await add_sku(ledger_engine)
    t0 = now()
    first, created = await holds.place_hold(ledger_engine, "again", "web", lines(3), None, 10, t0)
    second, created_again = await holds.place_hold(
        ledger_engine, "again", "web", lines(3), None, 10, t0 + timedelta(minutes=4)
    )
    assert (created, created_again) == (True, False)
    assert second.lines == first.lines
    assert second.expires_at == t0 + timedelta(minutes=14)
    assert (await totals(ledger_engine))["held"] == 3
    assert await movement_kinds(ledger_engine, "again") == ["hold"]


async def test_other_lines_replace_the_hold_atomically(ledger_engine: AsyncEngine) -> None:
    await add_sku(ledger_engine)
    await hold(ledger_engine, "swap", 30, allow_partial=False)
    replaced = await hold(ledger_engine, "swap", 45)  # only possible with the 30 given back
    assert replaced.units == 45 and replaced.status == "active"
    assert (await totals(ledger_engine))["held"] == 45
    # A replacement that cannot be held changes nothing: the 45 stay held.
    with pytest.raises(holds.HoldError):
        await hold(ledger_engine, "swap", 60)
    after = await holds.get_hold(ledger_engine, "swap")
    assert after is not None and after.units == 45
    assert (await totals(ledger_engine))["held"] == 45
    assert await verify(ledger_engine) == []


async def test_release_gives_the_units_back_once(ledger_engine: AsyncEngine) -> None:
    await add_sku(ledger_engine)
    await hold(ledger_engine, "gone", 5)
    released = await holds.release_hold(ledger_engine, "gone", now())
    again = await holds.release_hold(ledger_engine, "gone", now())
    assert released.status == again.status == "released"
    assert (await ledger.atp_view(ledger_engine, CONTESTED)).total_atp == 50
    assert await movement_kinds(ledger_engine, "gone") == ["hold", "hold-release"]
    with pytest.raises(holds.HoldError) as ended:
        await holds.extend_hold(ledger_engine, "gone", 5, now())
    assert ended.value.status == 409
    with pytest.raises(holds.HoldError) as missing:
        await holds.release_hold(ledger_engine, "never", now())
    assert missing.value.status == 404


async def test_expiry_releases_only_holds_past_their_time_and_only_once(
    ledger_engine: AsyncEngine,
) -> None:
    await add_sku(ledger_engine)
    long_ago = now() - timedelta(minutes=30)
    await hold(ledger_engine, "stale-1", 4, at=long_ago)
    await hold(ledger_engine, "stale-2", 6, at=long_ago)
    await hold(ledger_engine, "fresh", 5)
    # Past its expiry but not yet swept, a hold still holds: nothing is promised twice.
    assert (await ledger.atp_view(ledger_engine, CONTESTED)).total_atp == 35
    swept, swept_again = await asyncio.gather(
        holds.expire_holds(ledger_engine, now()), holds.expire_holds(ledger_engine, now())
    )
    assert swept.expired_holds + swept_again.expired_holds == 2
    assert swept.released_units + swept_again.released_units == 10
    assert (await holds.expire_holds(ledger_engine, now())).expired_holds == 0
    stale = await holds.get_hold(ledger_engine, "stale-1")
    fresh = await holds.get_hold(ledger_engine, "fresh")
    assert stale is not None and stale.status == "expired"
    assert fresh is not None and fresh.status == "active"
    assert (await ledger.atp_view(ledger_engine, CONTESTED)).total_atp == 45
    assert await movement_kinds(ledger_engine, "stale-1") == ["hold", "hold-expired"]
    assert await verify(ledger_engine) == []


async def test_extending_a_hold_past_its_expiry_expires_it_instead(
    ledger_engine: AsyncEngine,
) -> None:
    await add_sku(ledger_engine)
    await hold(ledger_engine, "late", 2, at=now() - timedelta(minutes=20))
    with pytest.raises(holds.HoldError) as refused:
        await holds.extend_hold(ledger_engine, "late", 10, now())
    assert refused.value.status == 409 and "expired" in refused.value.detail
    assert (await totals(ledger_engine))["held"] == 0
    t0 = now()
    await hold(ledger_engine, "on-time", 2, at=t0)
    extended = await holds.extend_hold(ledger_engine, "on-time", 60, t0 + timedelta(minutes=1))
    assert extended.expires_at == t0 + timedelta(minutes=61)


async def test_a_destination_holds_where_the_router_would_ship_the_order(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine)
    policy = inventory(ledger_engine, network).policy
    made, _ = await holds.place_hold(
        ledger_engine,
        "ny",
        "web",
        lines(3),
        CartDestination(zip=NEW_YORK["zip"]),
        15,
        now(),
        network=with_sku(network),
        policy=policy,
    )
    await holds.release_hold(ledger_engine, "ny", now())
    routed = await inventory(ledger_engine, network).reserve_and_route(
        cart_order("ORD-NY", [(CONTESTED, 3)], None)
    )
    assert [ln.node for ln in made.lines] == [f.node for f in routed.fulfillments]
    # Columbus is the closest to New York but not the node with most ATP: the router chose.
    assert made.lines[0].node == "wh-columbus"
    with pytest.raises(holds.HoldError) as bad:
        await holds.place_hold(
            ledger_engine,
            "nowhere",
            "web",
            lines(1),
            CartDestination(pickup_node="no-such-store"),
            15,
            now(),
            network=with_sku(network),
            policy=policy,
        )
    assert bad.value.status == 422


async def test_held_units_are_not_reservable_by_orders(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine, stock={"wh-columbus": 3})
    await hold(ledger_engine, "mine", 3)
    routed = await inventory(ledger_engine, network).reserve_and_route(
        cart_order("ORD-OTHER", [(CONTESTED, 1)], None)
    )
    assert routed.fulfillments == [] and [b.qty for b in routed.backordered] == [1]


async def test_verify_finds_held_that_no_hold_explains(ledger_engine: AsyncEngine) -> None:
    await add_sku(ledger_engine)
    await hold(ledger_engine, "ok", 2)
    async with ledger_engine.begin() as conn:
        await conn.execute(
            schema.inventory_positions.update()
            .where(
                schema.inventory_positions.c.node_id == "wh-reno",
                schema.inventory_positions.c.sku == CONTESTED,
            )
            .values(held=25)
        )
    kinds = sorted(v.kind for v in await verify(ledger_engine))
    assert kinds == ["held-mismatch", "over-committed"]


async def test_500_concurrent_carts_on_50_units_hold_exactly_50(
    ledger_engine: AsyncEngine,
) -> None:
    await add_sku(ledger_engine)
    backend = ledger_engine.url.get_backend_name()

    async def one(i: int) -> int:
        try:
            return (await hold(ledger_engine, f"rush-{i}", 1)).units
        except holds.HoldError as e:
            assert e.status == 409, e.detail
            return 0

    started = time.perf_counter()
    held = await asyncio.gather(*(one(i) for i in range(500)))
    elapsed = time.perf_counter() - started
    print(f"\n500 concurrent carts on {backend}: {elapsed:.2f} s ({500 / elapsed:.0f} holds/s)")
    t = await totals(ledger_engine)
    assert sum(held) == 50 and held.count(1) == 50
    assert t["held"] == t["in_active_holds"] == 50 and t["over_committed_positions"] == 0
    assert (await ledger.atp_view(ledger_engine, CONTESTED)).total_atp == 0
    assert await verify(ledger_engine) == []


async def test_holds_and_orders_racing_for_50_units_never_oversell(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine)
    acts = inventory(ledger_engine, network)

    async def cart(i: int) -> int:
        try:
            return (await hold(ledger_engine, f"mix-{i}", 1 + i % 2)).units
        except holds.HoldError as e:
            assert e.status == 409, e.detail
            return 0

    async def order(i: int) -> int:
        while True:  # what Temporal's retry policy would do on a ReservationConflict
            try:
                routed = await acts.reserve_and_route(
                    cart_order(f"MIX-{i}", [(CONTESTED, 1)], None)
                )
                return sum(ln.qty for f in routed.fulfillments for ln in f.lines)
            except ApplicationError as e:
                assert e.type == "ReservationConflict", e

    jobs = [cart(i) for i in range(150)] + [order(i) for i in range(100)]
    got = await asyncio.gather(*jobs)
    t = await totals(ledger_engine)
    assert sum(got[:150]) == t["held"] == t["in_active_holds"]
    assert sum(got[150:]) == t["reserved"] == t["in_reservation_rows"]
    assert t["held"] + t["reserved"] == 50 and t["over_committed_positions"] == 0
    assert await verify(ledger_engine) == []


async def test_feeds_and_unplanned_outbound_never_take_held_units(
    ledger_engine: AsyncEngine, network: Network
) -> None:
    await add_sku(ledger_engine, stock={"wh-columbus": 10})
    await hold(ledger_engine, "keep", 4)
    await inventory(ledger_engine, network).reserve_and_route(
        cart_order("ORD-KEEP", [(CONTESTED, 3)], None)
    )
    # A count of 2 while 3 are reserved and 4 held: on_hand stays at 7, and says why.
    counted = await apply_feed(
        ledger_engine,
        InventoryFeed(
            feed_id="count-1",
            node="wh-columbus",
            mode="snapshot",
            items=[InventoryItem(sku=CONTESTED, on_hand=2)],
        ),
    )
    assert counted.changes[0].on_hand_after == 7
    assert "4 held in carts" in counted.shortfalls[0].detail
    # The node ships 5 units of a cancelled request: none of them can be the 7 promised.
    taken = await record_unplanned_outbound(
        ledger_engine,
        order_id="ORD-GONE",
        shipment_id="ORD-GONE:1:wh-columbus",
        node="wh-columbus",
        lines=[(CONTESTED, 5)],
        reference="late-ship-1",
        note="",
    )
    assert taken == 0
    t = await totals(ledger_engine)
    assert (t["on_hand"], t["reserved"], t["held"]) == (7, 3, 4)
    assert t["over_committed_positions"] == 0
    assert await verify(ledger_engine) == []
