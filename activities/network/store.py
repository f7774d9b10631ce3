"""Network versions in the DOM database: seed version 1, apply a validated document (with its
diff against the active version), history, rollback and node lifecycle changes.

Versions are append-only and the newest is the active one: routing reads one integer per
attempt and a new version applies to the next attempt, with no restart. An order in flight
keeps the plan it was given (its reservations are in the ledger)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from activities.inventory.db import seed_network
from dom_workflows.network import Network
from dom_workflows.network_versions.diff import Change, diff
from dom_workflows.network_versions.document import NetworkDocument, NodeState
from dom_workflows.routing.policy import Policy

log = logging.getLogger("dom.network")
nv = schema.network_versions
SEED_AUTHOR = "network-seed"


class InvalidDocument(ValueError):
    """The document cannot be a version; the message says where and why."""


class UnknownVersion(LookupError):
    def __init__(self, version: int) -> None:
        super().__init__(f"no network version {version}")
        self.version = version


class VersionConflict(RuntimeError):
    """Someone else applied a version at the same moment: read the diff again and retry."""


class VersionInfo(BaseModel):
    version: int
    policy_version: int
    author: str
    comment: str
    rollback_of: int | None
    created_at: datetime


class StoredVersion(VersionInfo):
    document: NetworkDocument


class ApplyResult(BaseModel):
    applied: VersionInfo | None  # None: a dry run, or nothing changed
    previous: int | None
    changes: list[Change]
    dry_run: bool

    def lines(self) -> list[str]:
        return [c.line() for c in self.changes] or ["no change"]


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def describe(e: ValidationError) -> str:
    """The first few problems, `where: why` each."""
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "document"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    more = len(e.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validate(data: Any) -> NetworkDocument:
    if isinstance(data, NetworkDocument):
        return data
    if not isinstance(data, dict):
        raise InvalidDocument("document: a mapping with network and policy")
    try:
        return NetworkDocument.model_validate(data)
    except ValidationError as e:
        raise InvalidDocument(describe(e)) from None


def _row(r: Any, with_document: bool) -> VersionInfo:
    fields = {
        "version": r.version,
        "policy_version": r.policy_version,
        "author": r.author,
        "comment": r.comment,
        "rollback_of": r.rollback_of,
        "created_at": _aware(r.created_at),
    }
    if with_document:
        return StoredVersion(**fields, document=NetworkDocument.model_validate(r.document))
    return VersionInfo(**fields)


async def active_version(conn: AsyncConnection) -> int | None:
    """The active version's number (one indexed max): what routing reads every attempt."""
    return (await conn.execute(sa.select(sa.func.max(nv.c.version)))).scalar_one_or_none()


async def get(conn: AsyncConnection, version: int | None = None) -> StoredVersion | None:
    """One version with its document; None for the active one when there is none."""
    number = version if version is not None else await active_version(conn)
    if number is None:
        return None
    row = (await conn.execute(sa.select(nv).where(nv.c.version == number))).first()
    if row is None:
        if version is not None:
            raise UnknownVersion(version)
        return None
    out = _row(row, with_document=True)
    assert isinstance(out, StoredVersion)
    return out


async def history(conn: AsyncConnection, limit: int = 50) -> list[VersionInfo]:
    cols = [c for c in nv.c if c.name != "document"]
    rows = await conn.execute(sa.select(*cols).order_by(nv.c.version.desc()).limit(limit))
    return [_row(r, with_document=False) for r in rows]


async def _insert(
    engine: AsyncEngine,
    doc: NetworkDocument,
    author: str,
    comment: str,
    rollback_of: int | None,
    now: datetime,
    *,
    expect_active: int | None,
) -> VersionInfo:
    async with engine.begin() as conn:
        current = await get(conn)
        number = current.version if current else None
        if number != expect_active:
            raise VersionConflict(
                f"version {number} was applied meanwhile (the diff was against {expect_active})"
            )
        version = (number or 0) + 1
        same_policy = current is not None and current.document.policy_json() == doc.policy_json()
        values = {
            "version": version,
            "document": doc.model_dump(mode="json"),
            "policy_version": current.policy_version if same_policy and current else version,
            "author": author[:200] or "unknown",
            "comment": comment[:500],
            "rollback_of": rollback_of,
            "created_at": now,
        }
        try:
            await conn.execute(nv.insert().values(**values))
        except IntegrityError:
            raise VersionConflict(f"version {version} was applied meanwhile") from None
    log.info("network version %d applied by %s: %s", version, author, comment or "-")
    return VersionInfo(**{k: v for k, v in values.items() if k != "document"})


async def apply(
    engine: AsyncEngine,
    data: Any,
    author: str,
    comment: str = "",
    *,
    dry_run: bool = False,
    rollback_of: int | None = None,
    now: datetime | None = None,
) -> ApplyResult:
    """Validate `data`, diff it against the active version and (unless a dry run) make it the
    active version. New nodes, SKUs and starting stock get their ledger rows first; live stock
    and node settings are never overwritten. InvalidDocument changes nothing."""
    doc = validate(data)
    async with engine.connect() as conn:
        current = await get(conn)
    changes = diff(current.document if current else None, doc)
    if current is not None and not changes and current.document != doc:
        # Only the order of items differs (rules are tried in order): still a change.
        changes = [Change(op="~", what="document", detail="order of items")]
    previous = current.version if current else None
    if dry_run or (current is not None and not changes and rollback_of is None):
        return ApplyResult(applied=None, previous=previous, changes=changes, dry_run=dry_run)
    await seed_network(engine, doc.network)
    info = await _insert(
        engine, doc, author, comment, rollback_of, now or datetime.now(UTC),
        expect_active=previous,
    )  # fmt: skip
    return ApplyResult(applied=info, previous=previous, changes=changes, dry_run=False)


async def seed(engine: AsyncEngine, network: Network, policy: Any) -> int | None:
    """Version 1 from the configured files when the database has no version yet (first start);
    returns the version created, else None."""
    async with engine.connect() as conn:
        if await active_version(conn) is not None:
            return None
    pol = policy if isinstance(policy, Policy) else Policy.model_validate(policy)
    doc = NetworkDocument(network=network, policy=pol)
    try:
        info = await _insert(
            engine, doc, SEED_AUTHOR, "from the configuration files", None,
            datetime.now(UTC), expect_active=None,
        )  # fmt: skip
    except VersionConflict:  # another process seeded it first
        return None
    return info.version


async def rollback(
    engine: AsyncEngine, version: int, author: str, comment: str = ""
) -> ApplyResult:
    """A new version equal to `version` (history stays whole)."""
    async with engine.connect() as conn:
        old = await get(conn, version)
    assert old is not None
    return await apply(
        engine, old.document, author, comment or f"rollback to version {version}",
        rollback_of=version,
    )  # fmt: skip


async def set_node_state(
    engine: AsyncEngine, node_id: str, state: NodeState, author: str, comment: str = ""
) -> ApplyResult:
    """Enable, drain or disable one node: a new version with only that changed."""
    async with engine.connect() as conn:
        current = await get(conn)
    if current is None:
        raise InvalidDocument("no network version yet: start a worker or apply one first")
    if node_id not in {n.id for n in current.document.network.nodes}:
        raise LookupError(f"unknown node {node_id[:100]!r}")
    states = {**current.document.node_states, node_id: state}
    if state == "active":
        states.pop(node_id)
    data = current.document.model_dump(mode="json") | {"node_states": states}
    return await apply(engine, data, author, comment or f"node {node_id} {state}")


class OrderScopes(BaseModel):
    order_id: str
    route_attempt: int
    network_version: int | None
    policy_version: str | None
    scopes: list[str]


async def decisions_of(engine: AsyncEngine, order_id: str) -> list[OrderScopes]:
    d = schema.routing_decisions
    query = (
        sa.select(
            d.c.order_id, d.c.route_attempt, d.c.network_version, d.c.policy_version, d.c.scopes
        )
        .where(d.c.order_id == order_id)
        .order_by(d.c.route_attempt)
    )
    async with engine.connect() as conn:
        return [
            OrderScopes(
                order_id=r.order_id,
                route_attempt=r.route_attempt,
                network_version=r.network_version,
                policy_version=r.policy_version,
                scopes=list(r.scopes or []),
            )
            for r in await conn.execute(query)
        ]
