"""Promise dates: cut-offs read in the node's zone, working days, holidays, handling and transit
counted on the right calendars, across daylight-saving changes; and the properties that hold for
any calendar and any moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_workflows.network import Holiday, Network
from dom_workflows.promise.dates import (
    WEEKDAYS,
    CarrierCalendar,
    NodeCalendar,
    ShipmentDates,
    carrier_calendar,
    combine,
    node_calendar,
    ship_dates,
    spread_days,
)

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
WEEK = frozenset(("mon", "tue", "wed", "thu", "fri"))
CARRIERS = CarrierCalendar(carrier_days=WEEK)

# 2026-11-30 is a Monday (US Central Standard Time, UTC-6).
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, 30) + timedelta(days=i) for i in range(7))


def calendar(**kw) -> NodeCalendar:
    fields = {"timezone": "America/Chicago", "cutoff": "16:00", "working_days": WEEK, "node": "n1"}
    return NodeCalendar(**(fields | kw))


def at(day: date, hh: int, mm: int, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz)


# --- the cut-off ---------------------------------------------------------------------------------


def test_before_the_cutoff_ships_today_after_it_tomorrow() -> None:
    node = calendar()
    before = ship_dates(node, CARRIERS, at(MON, 15, 55), transit_days=1)
    after = ship_dates(node, CARRIERS, at(MON, 16, 5), transit_days=1)
    assert before.ship_by == at(MON, 16, 0)
    assert before.earliest == TUE
    assert after.ship_by == at(TUE, 16, 0)
    assert after.earliest == WED


def test_exactly_at_the_cutoff_is_too_late() -> None:
    assert ship_dates(calendar(), CARRIERS, at(MON, 16, 0), 1).ship_by == at(TUE, 16, 0)


def test_a_utc_now_is_read_in_the_node_zone() -> None:
    # Chicago is UTC-6 in winter: 21:55Z is 15:55 there, 22:05Z is 16:05.
    node = calendar()
    assert ship_dates(node, CARRIERS, datetime(2026, 11, 30, 21, 55, tzinfo=UTC), 0).ship_by == at(
        MON, 16, 0
    )
    assert ship_dates(node, CARRIERS, datetime(2026, 11, 30, 22, 5, tzinfo=UTC), 0).ship_by == at(
        TUE, 16, 0
    )


def test_ship_by_is_aware_and_in_the_node_zone() -> None:
    got = ship_dates(calendar(), CARRIERS, datetime(2026, 11, 30, 12, 0, tzinfo=UTC), 0).ship_by
    assert got.tzinfo == CHICAGO
    assert got.astimezone(UTC) == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


# --- working days and holidays -------------------------------------------------------------------


def test_friday_after_the_cutoff_ships_monday_and_arrives_after_the_weekend() -> None:
    got = ship_dates(calendar(), CARRIERS, at(FRI, 17, 0), transit_days=1)
    assert got.ship_by == at(MON + timedelta(days=7), 16, 0)
    assert got.earliest == TUE + timedelta(days=7)


def test_an_order_taken_on_the_weekend_ships_monday() -> None:
    got = ship_dates(calendar(), CARRIERS, at(SAT, 9, 0), transit_days=0)
    assert got.ship_by == at(MON + timedelta(days=7), 16, 0)


def test_a_store_working_saturdays_ships_saturday_and_carriers_wait_for_monday() -> None:
    store = calendar(cutoff="14:00", working_days=WEEK | {"sat"})
    friday_late = ship_dates(store, CARRIERS, at(FRI, 15, 0), transit_days=1)
    assert friday_late.ship_by == at(SAT, 14, 0)
    # Carriers do not move on Sunday: one transit day after Saturday is Monday.
    assert friday_late.earliest == MON + timedelta(days=7)
    # The same moment at a warehouse closed on Saturdays waits for Monday.
    warehouse = ship_dates(calendar(), CARRIERS, at(FRI, 17, 0), transit_days=1)
    assert warehouse.ship_by == at(MON + timedelta(days=7), 16, 0)


def test_thanksgiving_at_wh_dallas_from_the_example_network(network: Network) -> None:
    dallas, carriers = node_calendar(network, "wh-dallas"), carrier_calendar(network)
    thanksgiving = date(2026, 11, 26)
    assert thanksgiving in dallas.holidays and thanksgiving in carriers.holidays
    # Wednesday after the cut-off: Thursday is the holiday, so it ships Friday ...
    wed_late = ship_dates(dallas, carriers, at(date(2026, 11, 25), 16, 30), transit_days=1)
    assert wed_late.ship_by == at(date(2026, 11, 27), 16, 0)
    # ... and one transit day after Friday is Monday.
    assert wed_late.earliest == date(2026, 11, 30)
    # Ordered on the holiday itself: taken the next working day.
    on_holiday = ship_dates(dallas, carriers, at(thanksgiving, 10, 0), transit_days=0)
    assert on_holiday.ship_by == at(date(2026, 11, 27), 16, 0)


def test_a_holiday_in_transit_is_not_a_carrier_day(network: Network) -> None:
    dallas, carriers = node_calendar(network, "wh-dallas"), carrier_calendar(network)
    # Ships Wednesday before Thanksgiving; the carriers rest on Thursday.
    got = ship_dates(dallas, carriers, at(date(2026, 11, 25), 9, 0), transit_days=1, spread=1)
    assert got.ship_by == at(date(2026, 11, 25), 16, 0)
    assert got.earliest == date(2026, 11, 27)
    assert got.latest == date(2026, 11, 30)


def test_a_node_holiday_closes_that_node_only_and_stops_no_carrier(network: Network) -> None:
    stocktake = date(2026, 12, 2)  # a Wednesday
    net = network.model_copy(
        update={"holidays": [*network.holidays, Holiday(day=stocktake, nodes=["wh-reno"])]}
    )
    assert stocktake in node_calendar(net, "wh-reno").holidays
    assert stocktake not in node_calendar(net, "wh-dallas").holidays
    assert stocktake not in carrier_calendar(net).holidays
    tuesday_late = datetime(2026, 12, 1, 17, 0, tzinfo=LOS_ANGELES)
    reno = ship_dates(node_calendar(net, "wh-reno"), carrier_calendar(net), tuesday_late, 0)
    assert reno.ship_by == datetime(2026, 12, 3, 16, 0, tzinfo=LOS_ANGELES)
    # Shipped Tuesday elsewhere, a parcel is still carried on the Reno stocktake day.
    dallas = ship_dates(node_calendar(net, "wh-dallas"), carrier_calendar(net), at(TUE, 9, 0), 1)
    assert dallas.earliest == stocktake


# --- handling, transit, spread ------------------------------------------------------------------


def test_handling_days_count_working_days_after_the_taken_day(network: Network) -> None:
    portland = node_calendar(network, "ds-portland")
    assert portland.handling_days == 1 and portland.cutoff == "12:00"
    carriers = carrier_calendar(network)
    # Thursday before noon: taken Thursday, shipped Friday.
    thu = ship_dates(portland, carriers, datetime(2026, 12, 3, 11, 0, tzinfo=LOS_ANGELES), 2)
    assert thu.ship_by == datetime(2026, 12, 4, 12, 0, tzinfo=LOS_ANGELES)
    assert thu.earliest == date(2026, 12, 8)
    # Friday after noon: taken Monday, shipped Tuesday.
    fri = ship_dates(portland, carriers, datetime(2026, 12, 4, 13, 0, tzinfo=LOS_ANGELES), 2)
    assert fri.ship_by == datetime(2026, 12, 8, 12, 0, tzinfo=LOS_ANGELES)
    # Three handling days across a weekend.
    slow = calendar(handling_days=3)
    assert ship_dates(slow, CARRIERS, at(THU, 9, 0), 0).ship_by == at(
        TUE + timedelta(days=7), 16, 0
    )


def test_transit_zero_arrives_the_day_it_ships_even_on_a_saturday() -> None:
    store = calendar(cutoff="14:00", working_days=WEEK | {"sat"})
    got = ship_dates(store, CARRIERS, at(SAT, 10, 0), transit_days=0)
    assert (got.ship_by, got.earliest, got.latest) == (at(SAT, 14, 0), SAT, SAT)


def test_spread_extends_the_window_by_carrier_days(network: Network) -> None:
    assert spread_days(network, "ground") == 1
    assert spread_days(network, "express") == 0
    assert spread_days(network, "pickup") == 0  # not configured: dated to the day
    # Ships Wednesday, two transit days: Friday; one more carrier day: Monday.
    got = ship_dates(calendar(), CARRIERS, at(WED, 9, 0), transit_days=2, spread=1)
    assert (got.earliest, got.latest) == (FRI, MON + timedelta(days=7))
    got = ship_dates(calendar(), CARRIERS, at(WED, 9, 0), transit_days=2, spread=3)
    assert got.latest == WED + timedelta(days=7)


def test_the_node_zone_decides_not_the_destination_or_utc(network: Network) -> None:
    carriers = carrier_calendar(network)
    # Monday 23:30Z: 15:30 in Reno (before its 16:00 cut-off), 18:30 in Columbus (after it).
    now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    reno = ship_dates(node_calendar(network, "wh-reno"), carriers, now, transit_days=3)
    columbus = ship_dates(node_calendar(network, "wh-columbus"), carriers, now, transit_days=3)
    assert reno.ship_by == datetime(2026, 11, 30, 16, 0, tzinfo=LOS_ANGELES)
    # Reno's cut-off is already Tuesday in UTC; transit still counts from Reno's Monday.
    assert reno.ship_by.astimezone(UTC).date() == TUE
    assert reno.earliest == THU
    assert columbus.ship_by == datetime(2026, 12, 1, 16, 0, tzinfo=NEW_YORK)
    assert columbus.earliest == FRI


# --- daylight saving -----------------------------------------------------------------------------


def test_the_week_daylight_saving_starts() -> None:
    # US clocks go forward on Sunday 2027-03-14: New York is UTC-5 before, UTC-4 after.
    node = calendar(timezone="America/New_York")
    friday = ship_dates(node, CARRIERS, datetime(2027, 3, 12, 20, 30, tzinfo=UTC), 0)
    assert friday.ship_by.astimezone(UTC) == datetime(2027, 3, 12, 21, 0, tzinfo=UTC)
    # Monday 20:30Z is 16:30 EDT (15:30 with the winter offset): past the cut-off.
    monday = ship_dates(node, CARRIERS, datetime(2027, 3, 15, 20, 30, tzinfo=UTC), 0)
    assert monday.ship_by.astimezone(UTC) == datetime(2027, 3, 16, 20, 0, tzinfo=UTC)
    assert monday.ship_by == datetime(2027, 3, 16, 16, 0, tzinfo=NEW_YORK)


def test_the_week_daylight_saving_ends() -> None:
    # US clocks go back on Sunday 2026-11-01: Chicago is UTC-5 before, UTC-6 after.
    node = calendar()
    friday = ship_dates(node, CARRIERS, datetime(2026, 10, 30, 20, 55, tzinfo=UTC), 0)
    assert friday.ship_by.astimezone(UTC) == datetime(2026, 10, 30, 21, 0, tzinfo=UTC)
    # The same 20:55Z on Monday is 14:55 CST: before the cut-off, which is now at 22:00Z.
    monday = ship_dates(node, CARRIERS, datetime(2026, 11, 2, 20, 55, tzinfo=UTC), 0)
    assert monday.ship_by.astimezone(UTC) == datetime(2026, 11, 2, 22, 0, tzinfo=UTC)


def test_a_cutoff_inside_the_spring_forward_gap_is_a_real_instant() -> None:
    # 02:30 does not exist in New York on 2027-03-14; the cut-off is read as 02:30 EST = 03:30 EDT.
    node = calendar(timezone="America/New_York", cutoff="02:30", working_days=frozenset(WEEKDAYS))
    got = ship_dates(node, CARRIERS, datetime(2027, 3, 14, 6, 0, tzinfo=UTC), 0)
    assert got.ship_by.astimezone(UTC) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert (got.ship_by.hour, got.ship_by.minute) == (3, 30)


# --- several shipments ---------------------------------------------------------------------------


def test_combine_takes_the_latest_of_each_bound() -> None:
    a = ShipmentDates(ship_by=at(MON, 16, 0), earliest=WED, latest=FRI)
    b = ShipmentDates(ship_by=at(TUE, 16, 0), earliest=TUE, latest=THU)
    assert combine([a, b]) == ShipmentDates(ship_by=at(TUE, 16, 0), earliest=WED, latest=FRI)
    assert combine([a]) == a
    with pytest.raises(ValueError, match="at least one shipment"):
        combine([])


# --- bad calendars and inputs --------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../etc/passwd", "america/chicago "])
def test_an_unknown_zone_is_a_clear_value_error(tz: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        calendar(timezone=tz)


@pytest.mark.parametrize("cutoff", ["24:00", "16:60", "4pm", "1600", "16:0", "", "+1:00"])
def test_a_bad_cutoff_is_a_clear_value_error(cutoff: str) -> None:
    with pytest.raises(ValueError, match="cut-off"):
        calendar(cutoff=cutoff)


def test_no_working_days_names_the_node_instead_of_looping() -> None:
    with pytest.raises(ValueError, match="node store-x has no working days"):
        ship_dates(calendar(working_days=frozenset(), node="store-x"), CARRIERS, at(MON, 9, 0), 1)


def test_carriers_that_never_move_are_a_value_error_unless_nothing_is_carried() -> None:
    idle = CarrierCalendar(carrier_days=frozenset())
    with pytest.raises(ValueError, match="carrier"):
        ship_dates(calendar(), idle, at(MON, 9, 0), transit_days=1)
    assert ship_dates(calendar(), idle, at(MON, 9, 0), transit_days=0).earliest == MON


def test_holidays_on_every_working_day_for_a_year_still_end() -> None:
    mondays = frozenset(MON + timedelta(weeks=i) for i in range(52))
    node = calendar(working_days=frozenset({"mon"}), holidays=mondays)
    got = ship_dates(node, CARRIERS, at(MON, 9, 0), 0)
    assert got.ship_by == at(MON + timedelta(weeks=52), 16, 0)


def test_a_naive_now_or_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ship_dates(calendar(), CARRIERS, datetime(2026, 11, 30, 9, 0), 1)
    with pytest.raises(ValueError, match="negative"):
        ship_dates(calendar(), CARRIERS, at(MON, 9, 0), -1)


# --- properties ----------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",  # a half-hour daylight-saving shift
    "Asia/Kolkata",
]
START = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def calendars(draw: st.DrawFn) -> tuple[NodeCalendar, CarrierCalendar]:
    working = draw(st.frozensets(st.sampled_from(WEEKDAYS), min_size=1))
    holidays = draw(
        st.frozensets(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)))
    )
    node = NodeCalendar(
        timezone=draw(st.sampled_from(ZONES)),
        cutoff=f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}",
        handling_days=draw(st.integers(0, 5)),
        working_days=working,
        holidays=holidays,
    )
    carrier_days = draw(st.frozensets(st.sampled_from(WEEKDAYS), min_size=1))
    return node, CarrierCalendar(carrier_days=carrier_days, holidays=holidays)


moments = st.integers(0, 2 * 365 * 24 * 60).map(lambda m: START + timedelta(minutes=m))
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars(), moments, st.integers(0, 6), st.integers(0, 3))
def test_ships_on_a_working_day_never_before_now_and_arrives_in_order(
    cals: tuple[NodeCalendar, CarrierCalendar], now: datetime, transit: int, spread: int
) -> None:
    node, carriers = cals
    got = ship_dates(node, carriers, now, transit, spread)
    ship_day = got.ship_by.date()
    assert got.ship_by.tzinfo == ZoneInfo(node.timezone)
    assert node.is_open(ship_day)
    assert got.ship_by > now
    assert ship_day <= got.earliest <= got.latest
    if transit:
        assert carriers.is_moving(got.earliest)


@PROPERTY
@given(calendars(), moments, st.integers(1, 20 * 24 * 60))
def test_a_later_now_never_ships_earlier(
    cals: tuple[NodeCalendar, CarrierCalendar], now: datetime, minutes_later: int
) -> None:
    node, carriers = cals
    first = ship_dates(node, carriers, now, 2, 1)
    later = ship_dates(node, carriers, now + timedelta(minutes=minutes_later), 2, 1)
    assert later.ship_by >= first.ship_by
    assert later.earliest >= first.earliest and later.latest >= first.latest
