"""Live node settings: the calendar a promise is dated with and the daily capacity routing may fill.

Seeded from the network config once per node (and once per configured holiday), then owned by
ops: `PATCH /v1/nodes/{id}`, `dom node set`, `dom holiday add|remove`. A re-seed never undoes a
live change -- a node's row is only inserted when absent, and a config holiday is seeded once
(its key in `applied_keys`), so a holiday ops removed stays removed.

This module does not import `db` (which imports it to seed), so it keeps its own clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from dom_workflows.network import WORKWEEK, Network, NodeCapacity, NodeConfig, Weekday

log = logging.getLogger("dom.nodes")

ns = schema.node_settings
hol = schema.holidays

CapacityUnit = Literal["orders", "units"]
CUTOFF = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Beyond this a handling time is a typo, not a node.
MAX_HANDLING_DAYS = 60
HOLIDAY_SEED_KIND = "holiday-seed"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _zone(name: str) -> ZoneInfo:
    """The IANA zone, or ValueError saying the name is not one."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown timezone {name[:80]!r} (an IANA name such as America/Chicago)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown timezone {name[:80]!r} (an IANA name such as America/Chicago)"
        ) from None


def _ordered_days(days: Iterable[str]) -> list[Weekday]:
    chosen = set(days)
    return [d for d in WEEKDAYS if d in chosen]


class NodeSettings(BaseModel):
    """One node's live settings with the holidays that apply to it (network-wide and its own)."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    timezone: str
    cutoff: str  # local HH:MM of the carrier pick-up
    handling_days: int
    working_days: list[Weekday]
    holidays: list[date] = Field(default_factory=list)  # sorted, no duplicates
    capacity_limit: int | None = None  # None: unlimited
    capacity_unit: CapacityUnit = "orders"
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_day(self, now: datetime) -> str:
        """The node's local date at `now` (timezone-aware), YYYY-MM-DD: capacity resets on it."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.astimezone(self.zone).date().isoformat()

    def calendar_fields(self) -> dict[str, Any]:
        """The fields of promise dating's NodeCalendar (timezone, cutoff, handling_days,
        working_days, holidays)."""
        return {
            "timezone": self.timezone,
            "cutoff": self.cutoff,
            "handling_days": self.handling_days,
            "working_days": list(self.working_days),
            "holidays": list(self.holidays),
        }

    @classmethod
    def from_config(cls, node: NodeConfig, holidays: Iterable[date] = ()) -> NodeSettings:
        return cls(
            node_id=node.id,
            timezone=node.timezone,
            cutoff=node.cutoff,
            handling_days=node.handling_days,
            working_days=_ordered_days(node.working_days),
            holidays=sorted(set(holidays)),
            capacity_limit=node.capacity.limit if node.capacity else None,
            capacity_unit=node.capacity.unit if node.capacity else "orders",
        )


class NodeSettingsChange(BaseModel):
    """A partial change; a field left out stays as it is. `capacity: null` means unlimited."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(default=None, max_length=64, examples=["America/Chicago"])
    cutoff: str | None = Field(default=None, pattern=CUTOFF.pattern, examples=["14:00"])
    handling_days: int | None = Field(default=None, ge=0, le=MAX_HANDLING_DAYS)
    working_days: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    capacity: NodeCapacity | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            _zone(v)
        return v

    @field_validator("working_days")
    @classmethod
    def _distinct(cls, v: list[Weekday] | None) -> list[Weekday] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("working_days lists a day twice")
        return v

    def columns(self) -> dict[str, Any]:
        """The node_settings columns this change sets; ValueError for a null that means nothing."""
        out: dict[str, Any] = {}
        for name in ("timezone", "cutoff", "handling_days", "working_days"):
            if name in self.model_fields_set:
                value = getattr(self, name)
                if value is None:
                    raise ValueError(f"{name} cannot be null")
                out[name] = _ordered_days(value) if name == "working_days" else value
        if "capacity" in self.model_fields_set:
            if self.capacity is None:
                out["capacity_limit"] = None
            else:
                out["capacity_limit"] = self.capacity.limit
                out["capacity_unit"] = self.capacity.unit
        return out


class UnknownNode(LookupError):
    def __init__(self, node_id: str) -> None:
        super().__init__(f"unknown node {node_id[:100]!r}")
        self.node_id = node_id


class InvalidSettings(ValueError):
    """A change that cannot be applied; the message says which field and why."""


class Holiday(BaseModel):
    day: date
    node_id: str | None = None  # None: the whole network and the carriers
    name: str = ""


# ------------------------------------------------------------------------------------- seeding


def _seeded_holiday_key(day: date, node_id: str | None) -> str:
    return f"{HOLIDAY_SEED_KIND}:{day.isoformat()}:{node_id or '*'}"


async def seed(conn: AsyncConnection, network: Network, now: datetime | None = None) -> int:
    """Insert settings for nodes that have none and the config's holidays not seeded before.
    Returns the node rows created. Runs inside `db.seed_network`'s transaction."""
    now = now or _utcnow()
    existing = set((await conn.execute(sa.select(ns.c.node_id))).scalars())
    created = 0
    for node in network.nodes:
        if node.id in existing:
            continue
        try:  # a zone routing could not use must stop the seed, not every later order
            _zone(node.timezone)
        except ValueError as e:
            raise ValueError(f"network config, node {node.id}: {e}") from None
        s = NodeSettings.from_config(node)
        await conn.execute(
            ns.insert().values(
                node_id=node.id,
                timezone=s.timezone,
                cutoff=s.cutoff,
                handling_days=s.handling_days,
                working_days=s.working_days,
                capacity_limit=s.capacity_limit,
                capacity_unit=s.capacity_unit,
                updated_at=now,
                updated_by="network-seed",
            )
        )
        created += 1
    keys = schema.applied_keys
    seeded = set(
        (
            await conn.execute(sa.select(keys.c.key).where(keys.c.kind == HOLIDAY_SEED_KIND))
        ).scalars()
    )
    for h in network.holidays:
        for node_id in h.nodes if h.nodes is not None else [None]:
            key = _seeded_holiday_key(h.day, node_id)
            if key in seeded:
                continue
            await _put_holiday(conn, h.day, node_id, h.name)
            await conn.execute(
                keys.insert().values(key=key, kind=HOLIDAY_SEED_KIND, created_at=now)
            )
            seeded.add(key)
    return created


# ------------------------------------------------------------------------------------- reading


def _row_settings(row: Any, holidays: list[date]) -> NodeSettings:
    return NodeSettings(
        node_id=row.node_id,
        timezone=row.timezone,
        cutoff=row.cutoff,
        handling_days=row.handling_days,
        working_days=_ordered_days(row.working_days or []),
        holidays=holidays,
        capacity_limit=row.capacity_limit,
        capacity_unit=row.capacity_unit,
        # SQLite hands timestamps back without their zone; they were written in UTC.
        updated_at=_aware(row.updated_at),
        updated_by=row.updated_by,
    )


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


async def list_holidays(conn: AsyncConnection, node_id: str | None = None) -> list[Holiday]:
    """Every holiday (network-wide and per node), or those that apply to `node_id`."""
    query = sa.select(hol.c.day, hol.c.node_id, hol.c.name)
    if node_id is not None:
        query = query.where(sa.or_(hol.c.node_id.is_(None), hol.c.node_id == node_id))
    rows = await conn.execute(query.order_by(hol.c.day, hol.c.node_id, hol.c.id))
    seen: set[tuple[date, str | None]] = set()
    out: list[Holiday] = []
    for r in rows:
        if (r.day, r.node_id) in seen:  # a network-wide day added twice at once (NULLs differ)
            continue
        seen.add((r.day, r.node_id))
        out.append(Holiday(day=r.day, node_id=r.node_id, name=r.name))
    return out


async def load_node_settings(
    conn: AsyncConnection, network: Network | None = None
) -> dict[str, NodeSettings]:
    """Every node's live settings with its holidays, by node id. With `network`, a configured
    node that has no row yet (a database seeded before 0005) gets its config values."""
    all_holidays = await list_holidays(conn)
    network_days = [h.day for h in all_holidays if h.node_id is None]
    per_node: dict[str, list[date]] = {}
    for h in all_holidays:
        if h.node_id is not None:
            per_node.setdefault(h.node_id, []).append(h.day)

    def days_for(node_id: str) -> list[date]:
        return sorted({*network_days, *per_node.get(node_id, [])})

    rows = await conn.execute(sa.select(ns).order_by(ns.c.node_id))
    out = {r.node_id: _row_settings(r, days_for(r.node_id)) for r in rows}
    if network is not None:
        for node in network.nodes:
            if node.id not in out:
                out[node.id] = NodeSettings.from_config(node, days_for(node.id))
    return out


async def node_settings_of(conn: AsyncConnection, node_id: str) -> NodeSettings:
    settings = await load_node_settings(conn)
    if node_id not in settings:
        raise UnknownNode(node_id)
    return settings[node_id]


# ------------------------------------------------------------------------------------- changing


def parse_change(changes: NodeSettingsChange | dict[str, Any]) -> NodeSettingsChange:
    if isinstance(changes, NodeSettingsChange):
        return changes
    try:
        return NodeSettingsChange.model_validate(changes)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidSettings(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


async def update_node_settings(
    engine: AsyncEngine,
    node_id: str,
    changes: NodeSettingsChange | dict[str, Any],
    who: str,
    now: datetime | None = None,
) -> NodeSettings:
    """Apply a validated partial change to one node (UnknownNode, InvalidSettings); records who
    and when, logs it, and returns the node's settings as they now are. Routing and promising
    read the table on every call, so the change applies to the next order without a restart."""
    change = parse_change(changes)
    try:
        columns = change.columns()
    except ValueError as e:
        raise InvalidSettings(str(e)) from None
    now = now or _utcnow()
    who = who[:200] or "unknown"
    async with engine.begin() as conn:
        known = await conn.execute(sa.select(schema.nodes.c.id).where(schema.nodes.c.id == node_id))
        if known.first() is None:
            raise UnknownNode(node_id)
        values = {**columns, "updated_at": now, "updated_by": who}
        updated = await conn.execute(ns.update().where(ns.c.node_id == node_id).values(**values))
        if updated.rowcount != 1:
            # A node that exists but was never seeded with settings: start from defaults.
            base = NodeSettings(
                node_id=node_id, timezone="UTC", cutoff="16:00", handling_days=0,
                working_days=list(WORKWEEK),
            )  # fmt: skip
            await conn.execute(
                ns.insert().values(
                    node_id=node_id,
                    timezone=base.timezone,
                    cutoff=base.cutoff,
                    handling_days=base.handling_days,
                    working_days=base.working_days,
                    capacity_limit=None,
                    capacity_unit="orders",
                    **values,
                )
            )
        result = await node_settings_of(conn, node_id)
    log.info(
        "node %s settings changed by %s: %s",
        node_id,
        who,
        ", ".join(f"{k}={v}" for k, v in columns.items()) or "nothing",
    )
    return result


async def _put_holiday(conn: AsyncConnection, day: date, node_id: str | None, name: str) -> bool:
    """Insert or rename; True when the day was new."""
    match = sa.and_(
        hol.c.day == day, hol.c.node_id.is_(None) if node_id is None else hol.c.node_id == node_id
    )
    renamed = await conn.execute(hol.update().where(match).values(name=name[:200]))
    if renamed.rowcount:
        return False
    await conn.execute(hol.insert().values(day=day, node_id=node_id, name=name[:200]))
    return True


async def add_holiday(
    engine: AsyncEngine, day: date, node_id: str | None, name: str, who: str
) -> tuple[Holiday, bool]:
    """Make `day` a holiday for one node or (node_id None) the whole network; a repeat renames.
    Returns the holiday and whether it is new."""
    if len(name) > 200:
        raise InvalidSettings("name: at most 200 characters")
    async with engine.begin() as conn:
        if node_id is not None:
            known = await conn.execute(
                sa.select(schema.nodes.c.id).where(schema.nodes.c.id == node_id)
            )
            if known.first() is None:
                raise UnknownNode(node_id)
        created = await _put_holiday(conn, day, node_id, name)
    log.info(
        "holiday %s %s (%s) %s by %s",
        day.isoformat(),
        node_id or "network-wide",
        name,
        "added" if created else "renamed",
        who,
    )
    return Holiday(day=day, node_id=node_id, name=name), created


async def remove_holiday(engine: AsyncEngine, day: date, node_id: str | None, who: str) -> bool:
    """Remove the holiday (network-wide when node_id is None); False when there was none."""
    async with engine.begin() as conn:
        match = sa.and_(
            hol.c.day == day,
            hol.c.node_id.is_(None) if node_id is None else hol.c.node_id == node_id,
        )
        removed = (await conn.execute(hol.delete().where(match))).rowcount
    if removed:
        log.info("holiday %s %s removed by %s", day.isoformat(), node_id or "network-wide", who)
    return bool(removed)
