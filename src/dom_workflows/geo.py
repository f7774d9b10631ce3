"""Offline geography: haversine distance and US ZIP geocoding from the packaged `zipcodes` data.

The ZIP data is loaded on first use, never at import, so the workflow sandbox stays cheap.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

EARTH_RADIUS_MILES = 3958.8


class UnknownZip(ValueError):
    """The ZIP code is not a real US ZIP code in the packaged data set."""


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float
    state: str | None = None
    city: str | None = None


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in miles (Earth radius 3958.8 mi)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


@functools.cache
def _zip_index() -> dict[str, GeoPoint]:
    """Every ZIP once, by code: `zipcodes.matching` scans the whole list on each call."""
    import zipcodes  # deferred: loads a data file on first use

    index: dict[str, GeoPoint] = {}
    for m in zipcodes.list_all():
        index.setdefault(
            m["zip_code"],
            GeoPoint(lat=float(m["lat"]), lon=float(m["long"]), state=m["state"], city=m["city"]),
        )
    return index


def geocode_zip(zip_code: str) -> GeoPoint:
    """Centroid of a five-digit US ZIP (ZIP+4 accepted); raises UnknownZip with the reason."""
    five = (zip_code or "").strip()[:5]
    if len(five) != 5 or not five.isdigit():
        raise UnknownZip(f"ZIP code {zip_code!r} is not five digits")
    point = _zip_index().get(five)
    if point is None:
        raise UnknownZip(f"ZIP code {five} is not a known US ZIP code")
    return point
