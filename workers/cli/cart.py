"""`dom cart ...`: hold a cart's units, extend, release, show -- straight on the DOM database,
as the API does (POST/GET/DELETE /v1/carts/{cart_id}/hold)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.table import Table

from workers.cli.common import (
    console,
    database_url,
    fail,
    for_status,
    print_json,
    run,
    settings,
    usage,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dom_workflows.carts.models import CartHold, CartLine

T = TypeVar("T")
cart_app = typer.Typer(
    help="Cart holds: units kept out of ATP for a checkout.", no_args_is_help=True
)


def _cart_id(cart_id: str) -> str:
    from dom_workflows.carts.models import CART_ID_MAX, CART_ID_PATTERN

    if len(cart_id) > CART_ID_MAX or not re.fullmatch(CART_ID_PATTERN, cart_id):
        raise usage(f"cart id {cart_id!r} must match {CART_ID_PATTERN} (at most {CART_ID_MAX})")
    return cart_id


def _lines(specs: list[str]) -> list[CartLine]:
    from pydantic import ValidationError

    from dom_workflows.carts.models import CartLine

    lines = []
    for spec in specs:
        sku, sep, qty = spec.rpartition(":")
        if not sep or not sku or not qty.isdigit() or int(qty) < 1:
            raise usage(f"line {spec!r}: expected SKU:QTY with a quantity of at least 1")
        try:
            lines.append(CartLine(sku=sku, qty=int(qty)))
        except ValidationError as e:
            raise usage(f"line {spec!r}: {e.errors()[0]['msg']}") from None
    return lines


def _go(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    import sqlalchemy as sa

    from activities.inventory import holds
    from activities.inventory.db import create_engine

    url = database_url()

    async def go() -> T:
        engine = create_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except holds.HoldError as e:
        raise fail(e.detail, for_status(e.status)) from None
    except (sa.exc.SQLAlchemyError, OSError) as e:
        raise fail(f"cannot use the DOM database: {str(e).splitlines()[0]}") from None


def _print(hold: CartHold, as_json: bool) -> None:
    if as_json:
        print_json(hold)
        return
    order = f", order {hold.order_id}" if hold.order_id else ""
    console.print(
        f"cart {hold.cart_id} ({hold.channel}): [bold]{hold.status}[/bold]{order}, "
        f"expires {hold.expires_at.isoformat(timespec='seconds')}"
    )
    table = Table("line", "SKU", "qty", "node")
    for ln in hold.lines:
        table.add_row(ln.line_id, ln.sku, str(ln.qty), ln.node)
    for s in hold.short:
        table.add_row(s.line_id, s.sku, str(s.qty), "[red]not available[/red]")
    console.print(table)


@cart_app.command("hold")
def hold_cmd(
    cart_id: str,
    lines: list[str] = typer.Argument(..., help="SKU:QTY, one per cart line."),
    channel: str = typer.Option("web", help="The sales channel the cart belongs to."),
    minutes: int | None = typer.Option(
        None, min=1, help="How long (default and most: the channel's cart_hold_minutes)."
    ),
    zip_code: str | None = typer.Option(
        None, "--zip", help="Ship-to ZIP: hold where the router would ship from."
    ),
    pickup_node: str | None = typer.Option(None, help="Hold at this store for pickup."),
    partial: bool = typer.Option(False, help="Hold what there is instead of refusing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Hold a cart's units (all or nothing unless --partial); again with the same lines
    extends the hold, with other lines replaces it."""
    from pydantic import ValidationError

    from activities.inventory import holds
    from dom_workflows.carts.models import CartDestination
    from dom_workflows.network import load_network
    from dom_workflows.routing import load_policy

    cart_id = _cart_id(cart_id)
    wanted = _lines(lines)
    s = settings()
    network = load_network(s.network_path)
    most = network.channel(channel).cart_hold_minutes
    if minutes is not None and minutes > most:
        raise fail(f"a hold of channel {channel!r} lasts at most {most} minutes")
    destination = None
    if zip_code or pickup_node:
        try:
            destination = CartDestination(zip=zip_code, pickup_node=pickup_node)
        except ValidationError as e:
            raise usage(f"destination: {e.errors()[0]['msg']}") from None
    policy = load_policy(s.policy_path)

    async def work(engine: AsyncEngine) -> CartHold:
        made, _ = await holds.place_hold(
            engine,
            cart_id,
            channel,
            wanted,
            destination,
            minutes or most,
            datetime.now(UTC),
            network=network,
            policy=policy,
            allow_partial=partial,
        )
        return made

    _print(_go(work), as_json)


@cart_app.command("extend")
def extend_cmd(
    cart_id: str,
    minutes: int | None = typer.Option(None, min=1, help="Default: the channel's maximum."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The active hold now ends this many minutes from now (never earlier than it did)."""
    from activities.inventory import holds
    from dom_workflows.network import load_network

    cart_id = _cart_id(cart_id)
    network = load_network(settings().network_path)

    async def work(engine: AsyncEngine) -> CartHold:
        current = await holds.get_hold(engine, cart_id)
        if current is None:
            raise holds.HoldError(404, "unknown-cart", f"cart {cart_id} has no hold")
        most = network.channel(current.channel).cart_hold_minutes
        if minutes is not None and minutes > most:
            raise holds.HoldError(
                422, "invalid-cart", f"a hold of {current.channel!r} lasts at most {most} minutes"
            )
        return await holds.extend_hold(engine, cart_id, minutes or most, datetime.now(UTC))

    _print(_go(work), as_json)


@cart_app.command("release")
def release_cmd(cart_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Give the cart's units back to ATP."""
    from activities.inventory import holds

    cart_id = _cart_id(cart_id)
    _print(_go(lambda engine: holds.release_hold(engine, cart_id, datetime.now(UTC))), as_json)


@cart_app.command("show")
def show_cmd(cart_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The cart's hold: status, expiry, lines by node."""
    from activities.inventory import holds

    cart_id = _cart_id(cart_id)

    async def work(engine: AsyncEngine) -> CartHold:
        hold = await holds.get_hold(engine, cart_id)
        if hold is None:
            raise holds.HoldError(404, "unknown-cart", f"cart {cart_id} has no hold")
        return hold

    _print(_go(work), as_json)
