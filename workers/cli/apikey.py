"""`dom apikey create | list | revoke`: API keys for the HTTP API, in the DOM database.

The CLI's other commands talk to Temporal and the DOM database directly and need no key; a key
is for HTTP clients (channels, tools, `dom dev --demo`'s order stream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from workers.cli.common import (
    ExitCode,
    console,
    database_url,
    fail,
    not_found,
    print_json,
    run,
)

if TYPE_CHECKING:
    from workers.api import apikeys

# workers.api.apikeys.ALL_SCOPES, spelled out so that `dom --help` does not import the API
# (tests/cli/test_startup.py checks that they stay equal).
ALL_SCOPES = ("orders:write", "orders:read", "ops")

apikey_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


@apikey_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who the key is for, e.g. web-store."),
    scopes: str = typer.Option(
        ",".join(ALL_SCOPES),
        "--scopes",
        help="Comma-separated: orders:write (submit), orders:read (read, ATP), ops.",
    ),
    channel: str | None = typer.Option(
        None, "--channel", help="Bind the key to one sales channel's orders."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from activities.inventory.db import create_engine, migrate
    from workers.api import apikeys

    url = database_url(create=True)

    async def go() -> tuple[apikeys.ApiKey, str]:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await apikeys.create_key(engine, name, scopes, channel)
        finally:
            await engine.dispose()

    try:
        key, token = run(go())
    except ValueError as e:  # unknown scopes, a bad channel
        raise fail(str(e), ExitCode.USAGE) from None
    if as_json:
        print_json({**_row(key), "key": token})
        return
    console.print(
        f"API key [bold]{key.name}[/bold] (id {key.id}, scopes {', '.join(sorted(key.scopes))}"
        + (f", channel {key.channel}" if key.channel else "")
        + "). It is shown only now; store it safely:"
    )
    # Plain print: no wrapping or markup in the key itself.
    print(token)


def _row(key: apikeys.ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "scopes": sorted(key.scopes),
        "channel": key.channel,
        "created_at": key.created_at.isoformat() if key.created_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@apikey_app.command("list")
def list_cmd(
    all_keys: bool = typer.Option(False, "--all", help="Include revoked keys."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Keys (never their secrets): id, name, scopes, channel, created, last used."""
    from activities.inventory.db import create_engine, migrate
    from workers.api import apikeys

    url = database_url()

    async def go() -> list[apikeys.ApiKey]:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await apikeys.list_keys(engine, include_revoked=all_keys)
        finally:
            await engine.dispose()

    keys = run(go())
    if as_json:
        print_json([_row(k) for k in keys])
        return
    table = Table("id", "name", "scopes", "channel", "created", "last used", "revoked")
    for k in keys:
        r = _row(k)
        table.add_row(
            k.id,
            k.name,
            ",".join(sorted(k.scopes)),
            k.channel or "",
            str(r["created_at"] or "")[:19],
            str(r["last_used_at"] or "")[:19],
            str(r["revoked_at"] or "")[:19],
        )
    console.print(table)


@apikey_app.command("revoke")
def revoke(
    key: str = typer.Argument(..., help="The key's id or name (every active key of that name)."),
) -> None:
    """Revoke a key: API processes refuse it within seconds (their key cache expires)."""
    from activities.inventory.db import create_engine, migrate
    from workers.api import apikeys

    url = database_url()

    async def go() -> list[apikeys.ApiKey]:
        engine = create_engine(url)
        try:
            await migrate(engine)
            return await apikeys.revoke_key(engine, key)
        finally:
            await engine.dispose()

    try:
        revoked = run(go())
    except apikeys.KeyNotFound as e:
        raise not_found(str(e)) from None
    for k in revoked:
        console.print(f"revoked {k.id} ({k.name})")


def register(app: typer.Typer) -> None:
    app.add_typer(apikey_app, name="apikey")
