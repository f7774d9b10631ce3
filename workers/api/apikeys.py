"""API keys: `dom_<id>_<secret>`, created and revoked with `dom apikey`, stored hashed.

The secret is 32 random bytes; only its sha256 is stored (table `api_keys`), next to the key's
name, scopes, optional channel binding and timestamps. A key is looked up by its id and its
secret compared with `hmac.compare_digest`, so the plaintext is never stored and never compared
in a way that leaks timing. The API caches a verified key for `KEY_CACHE_SECONDS`; a revoked key
therefore stops working within that many seconds in every API process (the cache is per
process and expires; a revocation in the same process evicts it at once).

Clients find their key in `DOM_API_KEY`, else in `$DOM_HOME/api-key` (written by `dom dev`,
mode 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, cast, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.db import utcnow

Scope = Literal["orders:write", "orders:read", "ops"]
ALL_SCOPES: tuple[Scope, ...] = get_args(Scope)
PREFIX = "dom"
KEY_CACHE_SECONDS = 5.0
KEY_FILE = "api-key"
ENV_VAR = "DOM_API_KEY"
DEV_KEY_NAME = "dom-dev"
_ID = re.compile(r"^[0-9a-f]{16}$")
table = schema.api_keys


@dataclass(frozen=True)
class ApiKey:
    """A key as the API sees it once verified (never the secret)."""

    id: str
    name: str
    scopes: frozenset[str]
    channel: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


class BadScopes(ValueError):
    pass


def parse_scopes(spec: str | Iterable[str]) -> frozenset[str]:
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    items = [s for s in items if s]
    unknown = sorted(set(items) - set(ALL_SCOPES))
    if unknown:
        raise BadScopes(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}")
    if not items:
        raise BadScopes(f"at least one scope is needed: {', '.join(ALL_SCOPES)}")
    return frozenset(items)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed `dom_<id>_<secret>`, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not _ID.fullmatch(parts[1]) or not parts[2]:
        return None
    return parts[1], parts[2]


def _from_row(row: sa.Row[tuple[object, ...]] | sa.RowMapping) -> ApiKey:
    m = row._mapping if isinstance(row, sa.Row) else row
    return ApiKey(
        id=str(m["id"]),
        name=str(m["name"]),
        scopes=frozenset(cast(list[str], m["scopes"])),
        channel=cast(str | None, m["channel"]),
        created_at=cast(datetime | None, m["created_at"]),
        revoked_at=cast(datetime | None, m["revoked_at"]),
        last_used_at=cast(datetime | None, m["last_used_at"]),
    )


async def create_key(
    engine: AsyncEngine, name: str, scopes: str | Iterable[str], channel: str | None = None
) -> tuple[ApiKey, str]:
    """(the stored key, the plaintext `dom_<id>_<secret>`): show the plaintext once."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a key needs a name of 1 to 200 characters")
    scope_set = parse_scopes(scopes)
    channel = (channel or "").strip() or None
    if channel is not None and len(channel) > 64:
        raise ValueError("a channel name has at most 64 characters")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            table.insert().values(
                id=key_id,
                name=name,
                secret_sha256=_hash(secret),
                scopes=sorted(scope_set),
                channel=channel,
                created_at=now,
            )
        )
    key = ApiKey(key_id, name, scope_set, channel, now)
    return key, f"{PREFIX}_{key_id}_{secret}"


async def list_keys(engine: AsyncEngine, include_revoked: bool = True) -> list[ApiKey]:
    q = sa.select(table).order_by(table.c.created_at, table.c.id)
    if not include_revoked:
        q = q.where(table.c.revoked_at.is_(None))
    async with engine.connect() as conn:
        return [_from_row(r) for r in (await conn.execute(q)).all()]


class KeyNotFound(LookupError):
    pass


async def revoke_key(engine: AsyncEngine, id_or_name: str) -> list[ApiKey]:
    """Revoke the key with this id, or every active key with this name; what was revoked."""
    ref = id_or_name.strip()
    if ref.startswith(f"{PREFIX}_") and split_token(ref):
        ref = split_token(ref)[0]  # type: ignore[index]  # a whole key works too
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                sa.select(table).where(
                    sa.or_(table.c.id == ref, table.c.name == ref), table.c.revoked_at.is_(None)
                )
            )
        ).all()
        if not rows:
            raise KeyNotFound(f"no active API key has the id or name {id_or_name!r}")
        now = utcnow()
        ids = [r.id for r in rows]
        await conn.execute(table.update().where(table.c.id.in_(ids)).values(revoked_at=now))
    return [_from_row(r) for r in rows]


async def verify_token(engine: AsyncEngine, token: str) -> ApiKey | None:
    """The active key `token` is, or None (malformed, unknown, wrong secret or revoked).
    Records `last_used_at`."""
    parsed = split_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(table).where(table.c.id == key_id))).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(str(row.secret_sha256), _hash(secret)):
        return None
    with contextlib.suppress(sa.exc.SQLAlchemyError):  # bookkeeping never refuses a request
        async with engine.begin() as conn:
            await conn.execute(
                table.update().where(table.c.id == key_id).values(last_used_at=utcnow())
            )
    return _from_row(row)


@dataclass
class KeyCache:
    """Verified keys for `ttl` seconds, by sha256 of the whole token (never the token itself).
    Failures are not cached, so a key created a moment ago works at once."""

    ttl: float = KEY_CACHE_SECONDS
    clock: Callable[[], float] = field(default=time.monotonic)
    _entries: dict[str, tuple[float, ApiKey]] = field(default_factory=dict)

    async def verify(self, engine: AsyncEngine, token: str) -> ApiKey | None:
        digest = _hash(token)
        now = self.clock()
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await verify_token(engine, token)
        if key is None:
            self._entries.pop(digest, None)
        elif self.ttl > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (now + self.ttl, key)
        return key

    def clear(self) -> None:
        self._entries.clear()


# ----------------------------------------------------------------------------- clients
def key_path(home: Path) -> Path:
    return Path(home) / KEY_FILE


def resolve_key(home: Path) -> str | None:
    """The key a client sends: DOM_API_KEY, else the one `dom dev` wrote to $DOM_HOME/api-key."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    try:
        return key_path(home).read_text().strip() or None
    except OSError:
        return None


def auth_headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def write_key_file(home: Path, token: str) -> Path:
    path = key_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    path.chmod(0o600)
    return path


async def ensure_dev_key(engine: AsyncEngine, home: Path) -> tuple[str, bool]:
    """(key, created): the key in $DOM_HOME/api-key if it is still active in this database,
    else a new all-scopes key written there (mode 0600)."""
    try:
        existing = key_path(home).read_text().strip()
    except OSError:
        existing = ""
    if existing and await verify_token(engine, existing) is not None:
        return existing, False
    _, token = await create_key(engine, DEV_KEY_NAME, ALL_SCOPES)
    write_key_file(home, token)
    return token, True
