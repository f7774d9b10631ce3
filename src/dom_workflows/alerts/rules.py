"""Alert rules as data: one pydantic model per kind, validated wherever a rule enters the system
(the defaults, a JSON file, the API, the CLI), stored whole in `alert_rules.spec`.

Every rule names what it watches; a finding's subject (a node, an order, a SKU at a node) makes
the alert's key `<rule id>:<subject>`, so one condition on one thing is one alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Severity = Literal["warning", "critical"]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class BusinessHours(BaseModel):
    """Opening hours in one timezone (DST-aware: the local clock is what counts)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "America/New_York"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    # Local HH:MM (24 h), as people write opening hours.
    start: str = Field(default="09:00", pattern=HHMM)
    end: str = Field(default="18:00", pattern=HHMM)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.end <= self.start:  # zero-padded HH:MM compares as times do
            raise ValueError(f"business hours end ({self.end}) must be after start ({self.start})")
        return self

    def opened_at(self, now: datetime) -> datetime | None:
        """When today's opening began, if `now` is within business hours; else None."""
        local = now.astimezone(ZoneInfo(self.timezone))
        if WEEKDAYS[local.weekday()] not in self.days:
            return None
        if not self.start <= f"{local:%H:%M}" < self.end:
            return None
        hour, minute = (int(x) for x in self.start.split(":"))
        return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID_PATTERN)
    enabled: bool = True
    severity: Severity = "warning"
    # Resolve only after this many evaluations in a row found the condition clear: one clean
    # look after a noisy minute does not close (and re-open) an alert.
    clear_after: int = Field(default=2, ge=1, le=100)
    description: str = Field(default="", max_length=500)


class OrderNotRouted(_Rule):
    """Running orders still `received` (not routed, not on hold, not backordered) N minutes
    after they started."""

    kind: Literal["order-not-routed"] = "order-not-routed"
    minutes: int = Field(default=10, ge=1, le=7 * 24 * 60)


class NoOrders(_Rule):
    """No order at all in the last N minutes of business hours (only once the shop has been
    open that long today, so the first minutes of a morning do not alert about the night)."""

    kind: Literal["no-orders"] = "no-orders"
    minutes: int = Field(default=30, ge=1, le=24 * 60)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)


class FulfilmentOverdue(_Rule):
    """Fulfilment requests still requested/accepted past their ship-by (plus a grace)."""

    kind: Literal["fulfilment-overdue"] = "fulfilment-overdue"
    grace_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)


class NodeRejectionRate(_Rule):
    """A node rejected more than `threshold` of the requests it answered in the window; below
    `min_requests` answers nothing is concluded (one rejection is not a 100% rate)."""

    kind: Literal["node-rejection-rate"] = "node-rejection-rate"
    window_minutes: int = Field(default=60, ge=1, le=30 * 24 * 60)
    threshold: float = Field(default=0.25, gt=0, le=1)
    min_requests: int = Field(default=10, ge=1)


class FeedFailing(_Rule):
    """A node's inventory feed was refused this many times in a row."""

    kind: Literal["feed-failing"] = "feed-failing"
    failures: int = Field(default=3, ge=1, le=1000)


class FeedSilent(_Rule):
    """No good inventory feed from a node for N minutes. Nodes: the listed ones, or (empty)
    every node that has ever sent one."""

    kind: Literal["feed-silent"] = "feed-silent"
    minutes: int = Field(default=60, ge=1, le=30 * 24 * 60)
    nodes: list[str] = Field(default_factory=list)


class LowStock(_Rule):
    """A SKU at a node below `threshold` available units (on hand - reserved - held).
    Filters: empty means all."""

    kind: Literal["low-stock"] = "low-stock"
    threshold: int = Field(default=10, ge=1)
    node_types: list[str] = Field(default_factory=list)
    nodes: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)


RULE_KINDS = (
    OrderNotRouted
    | NoOrders
    | FulfilmentOverdue
    | NodeRejectionRate
    | FeedFailing
    | FeedSilent
    | LowStock
)
AlertRule = Annotated[RULE_KINDS, Field(discriminator="kind")]
RULE: TypeAdapter[AlertRule] = TypeAdapter(AlertRule)
RULES: TypeAdapter[list[AlertRule]] = TypeAdapter(list[AlertRule])
KINDS: tuple[str, ...] = (
    "order-not-routed",
    "no-orders",
    "fulfilment-overdue",
    "node-rejection-rate",
    "feed-failing",
    "feed-silent",
    "low-stock",
)


def parse_rules(data: object) -> list[AlertRule]:
    """A list of rules (e.g. a JSON file's content); ids must be unique."""
    rules = RULES.validate_python(data)
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise ValueError(f"rule id {r.id!r} appears twice")
        seen.add(r.id)
    return rules


def default_rules() -> list[AlertRule]:
    """Seeded into an empty `alert_rules` table. Thresholds a clean demo run never crosses."""
    return [
        OrderNotRouted(id="order-not-routed", minutes=10, severity="critical"),
        NoOrders(id="no-orders", minutes=30),
        FulfilmentOverdue(id="fulfilment-overdue", grace_minutes=0),
        NodeRejectionRate(
            id="node-rejection-rate", window_minutes=60, threshold=0.3, min_requests=20
        ),
        FeedFailing(id="feed-failing", failures=3),
        FeedSilent(id="feed-silent", minutes=60),
        LowStock(id="low-stock", threshold=10, node_types=["warehouse", "3pl"]),
    ]
