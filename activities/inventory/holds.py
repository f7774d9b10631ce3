"""Cart holds in the ledger: a storefront's cart keeps units out of ATP for a few minutes.

A hold moves units into `inventory_positions.held` (ATP = on_hand - reserved - held - safety
stock) with the same conditional update a reservation uses, so holds and orders together never
oversell. The `cart_holds` row is the single truth about a hold: it ends exactly once, by a
conditional update of its status from `active` to `released` (the storefront let go),
`expired` (the sweep found it past `expires_at`) or `converted` (an order took its units, see
`convert_in`), and the transaction that ends it gives its units back. Every position change
writes a movement (`hold`, `hold-release`, `hold-expired`, `hold-convert`), which also keeps the
availability change feed current.

A hold past `expires_at` that the sweep has not reached yet still holds its units: reads never
guess, so nothing is promised twice (the sweep runs every few seconds; see
dom_workflows.carts.workflows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import availability, ledger, schema
from dom_workflows.carts.models import (
    CartDestination,
    CartHold,
    CartLine,
    HeldLine,
    ShortLine,
    SweepResult,
)
from dom_workflows.network import Network
from dom_workflows.routing import Scenario, plan_route

pos = schema.inventory_positions
holds = schema.cart_holds
hold_lines = schema.cart_hold_lines

# A hold that lost a race for the units it planned (another cart or order took them first)
# plans again against fresh positions this many times before giving up.
MAX_REPLANS = 8
SWEEP_BATCH = 200


class HoldError(Exception):
    """A hold request that cannot be done as asked; nothing was changed. `status` is the HTTP
    status the API answers with, `kind` its problem type."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


class _LostRace(Exception):
    """A planned unit was taken between planning and holding: roll back and plan again."""


@dataclass(frozen=True)
class _Take:
    line_id: str
    sku: str
    node: str
    qty: int


def aware(at: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were stored in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("hold times must be timezone-aware")
    return at.astimezone(UTC)


def normalized(lines: Sequence[CartLine]) -> list[CartLine]:
    """Lines with their ids filled in (position "1", "2", ... as orders number them)."""
    out = [ln.model_copy(update={"line_id": ln.line_id or str(i)}) for i, ln in enumerate(lines, 1)]
    ids = [ln.line_id for ln in out]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
        raise HoldError(422, "invalid-cart", f"line ids repeat: {', '.join(dupes)}")
    return out


# ------------------------------------------------------------------------------------ reading


async def _row(conn: AsyncConnection, cart_id: str, *, lock: bool = False) -> Any:
    query = sa.select(holds).where(holds.c.cart_id == cart_id)
    return (await conn.execute(ledger._locking(conn, query) if lock else query)).first()


async def _lines(conn: AsyncConnection, cart_id: str) -> list[HeldLine]:
    rows = await conn.execute(
        sa.select(hold_lines)
        .where(hold_lines.c.cart_id == cart_id)
        .order_by(hold_lines.c.line_id, hold_lines.c.node_id)
    )
    return [HeldLine(line_id=r.line_id, sku=r.sku, qty=r.qty, node=r.node_id) for r in rows]


def _hold(row: Any, lines: list[HeldLine], short: list[ShortLine] | None = None) -> CartHold:
    return CartHold(
        cart_id=row.cart_id,
        channel=row.channel,
        status=row.status,
        expires_at=aware(row.expires_at),
        order_id=row.order_id,
        destination=CartDestination.model_validate(row.destination) if row.destination else None,
        lines=lines,
        short=short or [],
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


async def get_hold(engine: AsyncEngine, cart_id: str) -> CartHold | None:
    async with engine.connect() as conn:
        row = await _row(conn, cart_id)
        return None if row is None else _hold(row, await _lines(conn, cart_id))


async def active_lines(conn: AsyncConnection, cart_id: str, channel: str) -> list[HeldLine]:
    """The units an active hold of this channel's cart holds (none if it has ended, never was,
    or is another channel's: a cart id never crosses channels)."""
    row = await _row(conn, cart_id)
    if row is None or row.status != "active" or row.channel != channel:
        return []
    return await _lines(conn, cart_id)


def with_units_freed(
    positions: list[ledger.Position], freed: Sequence[HeldLine]
) -> list[ledger.Position]:
    """Positions as they will be once these held units leave `held` (planning a conversion)."""
    back: dict[tuple[str, str], int] = defaultdict(int)
    for ln in freed:
        back[(ln.node, ln.sku)] += ln.qty
    return [
        ledger.Position(
            p.node,
            p.sku,
            p.on_hand,
            p.reserved,
            p.safety_stock,
            max(0, p.held - back.get((p.node, p.sku), 0)),
        )
        for p in positions
    ]


# ------------------------------------------------------------------------------------ planning


def _by_most_atp(lines: list[CartLine], positions: list[ledger.Position]) -> list[_Take]:
    """Each line from the node with the most ATP, then the next, until it is covered."""
    free = {(p.node, p.sku): p.atp for p in positions}
    takes: list[_Take] = []
    for ln in lines:
        need = ln.qty
        nodes = sorted(
            (node for node, sku in free if sku == ln.sku), key=lambda n: (-free[(n, ln.sku)], n)
        )
        for node in nodes:
            n = min(need, free[(node, ln.sku)])
            if n <= 0:
                break
            assert ln.line_id is not None  # normalized
            takes.append(_Take(ln.line_id, ln.sku, node, n))
            free[(node, ln.sku)] -= n
            need -= n
    return takes


def _by_router(
    network: Network,
    policy: Any,
    cart_id: str,
    lines: list[CartLine],
    destination: CartDestination,
    positions: list[ledger.Position],
) -> list[_Take]:
    """The node(s) the order router would choose for this cart (same scenario as an order)."""
    pickup = destination.pickup_node is not None
    ship_to = None
    if not pickup:
        ship_to = {
            "lat": destination.lat,
            "lon": destination.lon,
            "zip": destination.zip,
            "state": destination.state,
        }
    scenario = Scenario.model_validate(
        {
            "nodes": [n.model_dump(mode="json") for n in network.nodes],
            "skus": [s.model_dump(mode="json") for s in network.skus],
            "inventory": [
                {
                    "node": p.node,
                    "sku": p.sku,
                    "on_hand": p.on_hand,
                    # Units held for other carts are not free for this one.
                    "reserved": p.reserved + p.held,
                    "safety_stock": p.safety_stock,
                }
                for p in positions
            ],
            "rates": network.rates,
            "policy": policy,
            "order": {
                "id": f"cart-{cart_id}",
                "lines": [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in lines],
                "ship_to": ship_to,
                "delivery": "pickup" if pickup else "ship",
                "pickup_node": destination.pickup_node,
            },
        }
    )
    plan = plan_route(scenario, strategy="optimal", alternatives=False)
    by_line = {ln.line_id: ln for ln in lines}
    takes = []
    for s in plan.shipments:
        for pl in s.lines:
            line_id = pl.line_id or next(i for i, ln in by_line.items() if ln.sku == pl.sku)
            assert line_id is not None
            takes.append(_Take(line_id, pl.sku, s.node, pl.qty))
    return takes


def _short_of(lines: list[CartLine], takes: list[_Take]) -> list[ShortLine]:
    got: dict[str, int] = defaultdict(int)
    for t in takes:
        got[t.line_id] += t.qty
    return [
        ShortLine(line_id=ln.line_id, sku=ln.sku, qty=ln.qty - got[ln.line_id])
        for ln in lines
        if ln.line_id is not None and got[ln.line_id] < ln.qty
    ]


# ------------------------------------------------------------------------------------ writing


async def _give_back(
    conn: AsyncConnection, cart_id: str, kind: str, now: datetime, note: str, *, publish: bool
) -> list[HeldLine]:
    """Move a hold's units out of `held` (the caller has just ended the hold). Without
    `publish`, the movements are written but the availability feed is not told: the caller
    calls `publish_conversion` once the transaction's other changes are made."""
    lines = await _lines(conn, cart_id)
    for ln in sorted(lines, key=lambda x: (x.sku, x.node)):
        moved = await conn.execute(
            pos.update()
            .where(pos.c.node_id == ln.node, pos.c.sku == ln.sku, pos.c.held >= ln.qty)
            .values(held=pos.c.held - ln.qty, updated_at=now)
        )
        if moved.rowcount != 1:
            raise ledger.LedgerInconsistent(
                f"cart {cart_id} holds {ln.qty} x {ln.sku} at {ln.node}, but that position "
                "holds fewer units (see `dom inventory verify`)"
            )
        if publish:
            await ledger._movement(
                conn, now, ln.node, ln.sku, kind, reference=cart_id, note=f"held -{ln.qty}; {note}"
            )
        else:
            await conn.execute(
                schema.movements.insert().values(
                    at=now,
                    node_id=ln.node,
                    sku=ln.sku,
                    kind=kind,
                    reference=cart_id,
                    note=f"held -{ln.qty}; {note}"[:500],
                )
            )
    return lines


async def _end(
    conn: AsyncConnection,
    cart_id: str,
    status: str,
    now: datetime,
    note: str,
    *,
    order_id: str | None = None,
    only_if_expired: bool = False,
    channel: str | None = None,
) -> list[HeldLine] | None:
    """End an active hold (exactly once: the status guard) and give its units back; None if it
    was not active (or, with only_if_expired, not yet past its expiry)."""
    query = holds.update().where(holds.c.cart_id == cart_id, holds.c.status == "active")
    if only_if_expired:
        query = query.where(holds.c.expires_at < now)
    if channel is not None:
        query = query.where(holds.c.channel == channel)
    done = await conn.execute(query.values(status=status, order_id=order_id, updated_at=now))
    if done.rowcount != 1:
        return None
    kind = {"released": "hold-release", "expired": "hold-expired", "converted": "hold-convert"}
    # A conversion publishes after the reservation (publish_conversion), or the feed would show
    # the units free for a moment that no reader of the ledger could ever see.
    return await _give_back(conn, cart_id, kind[status], now, note, publish=status != "converted")


async def _known_skus(conn: AsyncConnection, lines: list[CartLine]) -> None:
    wanted = sorted({ln.sku for ln in lines})
    known = set(
        (
            await conn.execute(sa.select(schema.skus.c.sku).where(schema.skus.c.sku.in_(wanted)))
        ).scalars()
    )
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise HoldError(
            422, "unknown-sku", f"SKU(s) not in the catalog: {', '.join(repr(s) for s in unknown)}"
        )


def _same(
    row: Any, lines: list[HeldLine], want: list[CartLine], dest: dict[str, Any] | None
) -> bool:
    held: dict[tuple[str, str], int] = defaultdict(int)
    for ln in lines:
        held[(ln.line_id, ln.sku)] += ln.qty
    asked = {(ln.line_id or "", ln.sku): ln.qty for ln in want}
    return held == asked and (row.destination or None) == dest


async def _hold_in(
    conn: AsyncConnection,
    cart_id: str,
    channel: str,
    lines: list[CartLine],
    destination: CartDestination | None,
    expires_at: datetime,
    now: datetime,
    network: Network | None,
    policy: Any,
    allow_partial: bool,
) -> tuple[CartHold, bool]:
    dest = destination.model_dump(mode="json", exclude_none=True) if destination else None
    row = await _row(conn, cart_id, lock=True)
    if row is not None and row.channel != channel and row.status == "active":
        raise HoldError(409, "cart-in-use", f"cart {cart_id} is held by another channel")
    if row is not None and row.status == "converted":
        raise HoldError(
            409,
            "cart-converted",
            f"cart {cart_id} already became order {row.order_id}; a new cart needs a new id",
        )
    if row is not None and row.status == "active":
        current = await _lines(conn, cart_id)
        if _same(row, current, lines, dest):
            # A repeat (or a refresh): the same hold, ending no earlier than before.
            until = max(aware(row.expires_at), expires_at)
            await conn.execute(
                holds.update()
                .where(holds.c.cart_id == cart_id)
                .values(expires_at=until, updated_at=now)
            )
            return _hold((await _row(conn, cart_id)), current), False
        # Other lines: give the old units back first, in this same transaction, so the new
        # plan may take them again and nothing is free in between.
        await _end(conn, cart_id, "released", now, "cart changed")
    await _known_skus(conn, lines)
    positions = await ledger.read_positions(conn, sorted({ln.sku for ln in lines}))
    try:
        if destination is not None and network is not None:
            takes = _by_router(network, policy, cart_id, lines, destination, positions)
        else:
            takes = _by_most_atp(lines, positions)
    except ValueError as e:  # the router's RoutingError: unknown ZIP or pickup node, ...
        raise HoldError(422, "invalid-destination", str(e)) from None
    short = _short_of(lines, takes)
    if short and not allow_partial:
        detail = "; ".join(f"{s.qty} x {s.sku} (line {s.line_id})" for s in short)
        raise HoldError(
            409,
            "insufficient-atp",
            f"cart {cart_id} cannot be held in full: {detail} not available",
        )
    if not takes:
        raise HoldError(409, "insufficient-atp", f"cart {cart_id}: none of its units are available")
    for t in sorted(takes, key=lambda x: (x.sku, x.node)):
        # The ATP check and the increment are one statement, as for a reservation.
        taken = await conn.execute(
            pos.update()
            .where(
                pos.c.node_id == t.node,
                pos.c.sku == t.sku,
                pos.c.on_hand - pos.c.reserved - pos.c.held - pos.c.safety_stock >= t.qty,
            )
            .values(held=pos.c.held + t.qty, updated_at=now)
        )
        if taken.rowcount != 1:
            raise _LostRace(f"{t.node} no longer has {t.qty} x {t.sku}")
        await ledger._movement(
            conn,
            now,
            t.node,
            t.sku,
            "hold",
            reference=cart_id,
            note=f"held +{t.qty}; cart {cart_id}",
        )
    values = {
        "channel": channel,
        "status": "active",
        "expires_at": expires_at,
        "order_id": None,
        "destination": dest,
        "updated_at": now,
    }
    if row is None:
        await conn.execute(holds.insert().values(cart_id=cart_id, created_at=now, **values))
    else:
        await conn.execute(hold_lines.delete().where(hold_lines.c.cart_id == cart_id))
        await conn.execute(
            holds.update().where(holds.c.cart_id == cart_id).values(created_at=now, **values)
        )
    await conn.execute(
        hold_lines.insert(),
        [
            {
                "cart_id": cart_id,
                "line_id": t.line_id,
                "node_id": t.node,
                "sku": t.sku,
                "qty": t.qty,
            }
            for t in takes
        ],
    )
    return _hold(await _row(conn, cart_id), await _lines(conn, cart_id), short), True


def _retryable(e: DBAPIError) -> bool:
    """PostgreSQL gave up on one of two transactions locking the same rows in another order."""
    text = str(e.orig).lower() if e.orig is not None else str(e).lower()
    return "deadlock" in text or "could not serialize" in text


async def place_hold(
    engine: AsyncEngine,
    cart_id: str,
    channel: str,
    lines: Sequence[CartLine],
    destination: CartDestination | None,
    minutes: int,
    now: datetime,
    *,
    network: Network | None = None,
    policy: Any = None,
    allow_partial: bool = False,
) -> tuple[CartHold, bool]:
    """Hold a cart's units for `minutes` from `now`, all of them or (allow_partial) what there
    is; (the hold, whether it was made or replaced now). One transaction. A repeat with the same
    lines and destination returns the active hold, extended; other lines replace it atomically.
    With a destination (and `network`), units come from the node the order router would pick;
    otherwise from the nodes with most ATP. Raises HoldError (nothing changed)."""
    if minutes < 1:
        raise HoldError(422, "invalid-cart", "a hold lasts at least one minute")
    now = _utc(now)
    want = normalized(lines)
    expires_at = now + timedelta(minutes=minutes)
    last = ""
    for _ in range(MAX_REPLANS):
        try:
            async with engine.begin() as conn:
                return await _hold_in(
                    conn,
                    cart_id,
                    channel,
                    want,
                    destination,
                    expires_at,
                    now,
                    network,
                    policy,
                    allow_partial,
                )
        except _LostRace as e:
            last = str(e)
        except IntegrityError:
            last = f"a concurrent request created cart {cart_id} first"
        except DBAPIError as e:
            if not _retryable(e):
                raise
            last = "the database resolved a lock conflict"
    raise HoldError(
        409, "hold-conflict", f"ATP kept moving while holding cart {cart_id}; last: {last}"
    )


async def extend_hold(engine: AsyncEngine, cart_id: str, minutes: int, now: datetime) -> CartHold:
    """The active hold now ends `minutes` from `now` (never earlier than it already did). A hold
    already past its expiry is expired here and then (as the sweep would) and refused."""
    now = _utc(now)
    async with engine.begin() as conn:
        row = await _row(conn, cart_id, lock=True)
        if row is None:
            raise HoldError(404, "unknown-cart", f"cart {cart_id} has no hold")
        if row.status == "active" and aware(row.expires_at) < now:
            await _end(
                conn, cart_id, "expired", now, "expired (seen on extend)", only_if_expired=True
            )
            row = await _row(conn, cart_id)
        if row.status == "active":
            until = max(aware(row.expires_at), now + timedelta(minutes=minutes))
            await conn.execute(
                holds.update()
                .where(holds.c.cart_id == cart_id)
                .values(expires_at=until, updated_at=now)
            )
            return _hold(await _row(conn, cart_id), await _lines(conn, cart_id))
    # Refused after the commit, so an expiry found here stays done.
    raise HoldError(409, "hold-ended", f"the hold of cart {cart_id} is {row.status}")


async def release_hold(engine: AsyncEngine, cart_id: str, now: datetime) -> CartHold:
    """Give the cart's units back. Idempotent: a hold already released or expired is returned as
    it is; one that became an order cannot be released (HoldError 409)."""
    now = _utc(now)
    async with engine.begin() as conn:
        row = await _row(conn, cart_id, lock=True)
        if row is None:
            raise HoldError(404, "unknown-cart", f"cart {cart_id} has no hold")
        if row.status == "converted":
            raise HoldError(
                409, "cart-converted", f"cart {cart_id} became order {row.order_id}; cancel that"
            )
        await _end(conn, cart_id, "released", now, "released by the storefront")
        return _hold(await _row(conn, cart_id), await _lines(conn, cart_id))


async def expire_holds(
    engine: AsyncEngine, now: datetime, *, batch: int = SWEEP_BATCH
) -> SweepResult:
    """End every active hold whose expiry is before `now` and give its units back: one short
    transaction per hold, each guarded by its status (a hold converted or released meanwhile is
    left alone), so concurrent sweeps and retries expire each hold once."""
    now = _utc(now)
    expired = units = 0
    seen: set[str] = set()
    while True:
        async with engine.connect() as conn:
            due = list(
                (
                    await conn.execute(
                        sa.select(holds.c.cart_id)
                        .where(holds.c.status == "active", holds.c.expires_at < now)
                        .order_by(holds.c.expires_at)
                        .limit(batch)
                    )
                ).scalars()
            )
        fresh = [c for c in due if c not in seen]
        if not fresh:
            return SweepResult(expired_holds=expired, released_units=units)
        for cart_id in fresh:
            seen.add(cart_id)
            async with engine.begin() as conn:
                ended = await _end(
                    conn, cart_id, "expired", now, "hold expired", only_if_expired=True
                )
            if ended is not None:
                expired += 1
                units += sum(ln.qty for ln in ended)


async def convert_in(
    conn: AsyncConnection, cart_id: str, channel: str, order_id: str, now: datetime
) -> list[HeldLine] | None:
    """Inside the transaction that reserves `order_id`: the cart's active hold becomes the
    order's (exactly once) and its units leave `held`, so the reservation that follows in the
    same transaction takes them with no moment in which they are free. None if the hold is not
    active (already converted, released, expired, never made, or another channel's).

    A hold past its expiry that the sweep has not reached yet still converts: it still held the
    units, and the order is what the hold was for. Call `publish_conversion` with the result
    after reserving, in the same transaction."""
    return await _end(
        conn,
        cart_id,
        "converted",
        _utc(now),
        f"became order {order_id}",
        order_id=order_id,
        channel=channel,
    )


async def publish_conversion(conn: AsyncConnection, converted: Sequence[HeldLine]) -> None:
    """After the converting order's reservation: bump the SKUs' versions and record a change in
    the availability feed only if network ATP really moved (it does not when the order keeps
    the held units)."""
    await availability.touch(conn, [ln.sku for ln in converted], "hold-convert")


async def held_by_position(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """Σ qty of active holds' lines per (node, sku): what `held` must say (verify)."""
    rows = await conn.execute(
        sa.select(hold_lines.c.node_id, hold_lines.c.sku, sa.func.sum(hold_lines.c.qty).label("n"))
        .join(holds, holds.c.cart_id == hold_lines.c.cart_id)
        .where(holds.c.status == "active")
        .group_by(hold_lines.c.node_id, hold_lines.c.sku)
    )
    return {(r.node_id, r.sku): int(r.n) for r in rows}
