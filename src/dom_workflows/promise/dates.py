"""Promise dates: when a shipment leaves its node and the days it may arrive.

Pure and deterministic (the only I/O is the time zone database, read through `zoneinfo`; there is
no clock: `now` is always an argument), so workflows may call it as well as the promise API.

The rules, all in the node's own time zone:
- An order is *taken* on the local date of `now` when that date is a working, non-holiday day and
  `now` is strictly before that day's carrier cut-off; otherwise on the next working non-holiday
  day.
- It *ships* `handling_days` working non-holiday days after the taken day; `ship_by` is the
  cut-off on the ship day.
- It arrives at the earliest `transit_days` carrier days after the ship day (a carrier day is one
  of `carrier_days` that is not a network-wide holiday; transit 0 is the ship day itself, as for
  pickup), at the latest `spread_days` carrier days after that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dom_workflows.network import Network, Weekday

# Indexed like date.weekday(): Monday is 0.
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ValueError that says which name is wrong."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as e:
        raise ValueError(f"unknown time zone {name!r}") from e


def parse_cutoff(value: str) -> time:
    """`"HH:MM"` (24-hour clock) as a time, or a ValueError that quotes the bad value."""
    hours, sep, minutes = value.partition(":")
    if not (
        sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
    ):
        raise ValueError(f"cut-off {value!r} is not HH:MM")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"cut-off {value!r} is not a time of day")
    return time(h, m)


class NodeCalendar(BaseModel):
    """When a node works: its zone, its daily carrier cut-off, its handling time and its days off.

    `holidays` holds the node's own days off and the network-wide ones together."""

    model_config = ConfigDict(frozen=True)

    timezone: str
    cutoff: str
    handling_days: int = Field(default=0, ge=0)
    working_days: frozenset[Weekday]
    holidays: frozenset[date] = frozenset()
    # Only named in errors ("node wh-x has no working day ...").
    node: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        zone(v)
        return v

    @field_validator("cutoff")
    @classmethod
    def _cutoff_is_time(cls, v: str) -> str:
        parse_cutoff(v)
        return v

    def is_open(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.working_days and day not in self.holidays

    def cutoff_on(self, day: date) -> datetime:
        """The cut-off on local `day` as a real instant, shown in the node's zone. A cut-off that
        falls in a daylight-saving gap is read with the offset before the gap (as zoneinfo does)
        and shown at the wall time it really is."""
        tz = zone(self.timezone)
        naive = datetime.combine(day, parse_cutoff(self.cutoff))
        return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


class CarrierCalendar(BaseModel):
    """When parcels move: the carriers' weekdays minus the network-wide holidays."""

    model_config = ConfigDict(frozen=True)

    carrier_days: frozenset[Weekday]
    holidays: frozenset[date] = frozenset()

    def is_moving(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.carrier_days and day not in self.holidays


class ShipmentDates(BaseModel):
    # The node's carrier cut-off on the ship day (aware, in the node's zone).
    ship_by: datetime
    earliest: date
    latest: date


def node_calendar(network: Network, node_id: str) -> NodeCalendar:
    """The calendar of `node_id` as configured (the live one, with ops' changes, comes from
    node_settings). Holidays without `nodes` apply to every node; the others to those listed."""
    node = network.node(node_id)
    days = {h.day for h in network.holidays if h.nodes is None or node_id in h.nodes}
    return NodeCalendar(
        timezone=node.timezone,
        cutoff=node.cutoff,
        handling_days=node.handling_days,
        working_days=frozenset(node.working_days),
        holidays=frozenset(days),
        node=node_id,
    )


def carrier_calendar(network: Network) -> CarrierCalendar:
    """Carriers rest on the network-wide holidays only (a node's own closure stops no truck)."""
    days = {h.day for h in network.holidays if h.nodes is None}
    return CarrierCalendar(carrier_days=frozenset(network.carrier_days), holidays=frozenset(days))


def spread_days(network: Network, service: str) -> int:
    """How many carrier days the late end of the delivery window adds for `service` (0 unless
    configured: express and pickup are dated to the day)."""
    return network.delivery_spread_days.get(service, 0)


def _advance(
    start: date, count: int, counts: Callable[[date], bool], days_off: int, what: str
) -> date:
    """The day `count` counted days after `start` (`start` itself when `count` is 0).

    With at least one counted weekday, every week skipped whole holds one of the `days_off`
    holidays, so a run of more than `7 * (days_off + 1)` skipped days means no weekday counts: a
    ValueError then, never an endless loop."""
    day = start
    skipped = 0
    while count > 0:
        day += timedelta(days=1)
        if counts(day):
            count -= 1
            skipped = 0
        else:
            skipped += 1
            if skipped > 7 * (days_off + 1):
                raise ValueError(f"{what} has no working day after {start.isoformat()}")
    return day


def ship_dates(
    node: NodeCalendar,
    carriers: CarrierCalendar,
    now: datetime,
    transit_days: int,
    spread: int = 0,
) -> ShipmentDates:
    """When a shipment from `node` for an order made at `now` leaves and arrives.

    `now` must be aware (any zone: it is read in the node's zone); `transit_days` and `spread`
    count carrier days. Raises ValueError for a naive `now`, negative days, or a calendar with no
    working day (or carriers that never move)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if transit_days < 0 or spread < 0:
        raise ValueError("transit_days and spread must not be negative")
    name = f"node {node.node}" if node.node else "the node's calendar"
    if not node.working_days:
        raise ValueError(f"{name} has no working days")
    local = now.astimezone(zone(node.timezone))
    today = local.date()
    if node.is_open(today) and now < node.cutoff_on(today):
        taken = today
    else:
        taken = _advance(today, 1, node.is_open, len(node.holidays), name)
    ship_day = _advance(taken, node.handling_days, node.is_open, len(node.holidays), name)
    if (transit_days or spread) and not carriers.carrier_days:
        raise ValueError("the carriers have no carrier days")
    off = len(carriers.holidays)
    earliest = _advance(ship_day, transit_days, carriers.is_moving, off, "the carrier calendar")
    latest = _advance(earliest, spread, carriers.is_moving, off, "the carrier calendar")
    return ShipmentDates(ship_by=node.cutoff_on(ship_day), earliest=earliest, latest=latest)


def combine(dates: Iterable[ShipmentDates]) -> ShipmentDates:
    """The dates of a promise made of several shipments.

    The customer has the whole order only once the last shipment is in, so each bound is the
    latest of the shipments': ship_by is the last cut-off any part has to make (the promise is
    kept only if every part ships, and the last one to leave decides), the window runs from the
    latest earliest arrival to the latest latest arrival. Taking the minimum of the earliest
    dates would promise a day on which part of the order cannot be there yet."""
    items = list(dates)
    if not items:
        raise ValueError("a promise needs at least one shipment to be dated")
    return ShipmentDates(
        ship_by=max(d.ship_by for d in items),
        earliest=max(d.earliest for d in items),
        latest=max(d.latest for d in items),
    )
