"""The carrier: rate quotes from the network's rate card, labels, return labels and voids."""

from __future__ import annotations

import hashlib
import math
import random
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from dom_workflows.common.models import Address
from dom_workflows.geo import UnknownZip, geocode_zip, haversine_miles
from dom_workflows.money import CENTS, Money
from dom_workflows.shipping.models import LabelRequest, RateQuote, RateRequest
from workers.simulator.idempotency import Invalid, Outcome

# Two simulated carriers with different price curves, so rate shopping has a real choice.
CARRIERS: dict[str, dict[str, Decimal]] = {
    "UPS-SIM": {
        "ground": Decimal("1.00"),
        "express": Decimal("1.03"),
        "overnight": Decimal("1.00"),
    },
    "FEDEX-SIM": {
        "ground": Decimal("1.06"),
        "express": Decimal("0.97"),
        "overnight": Decimal("1.02"),
    },
}


def _point(a: Address) -> tuple[float, float]:
    if a.lat is not None and a.lon is not None:
        return a.lat, a.lon
    if not a.zip:
        raise Invalid(f"address {a.name or a.city!r} needs a zip or lat/lon")
    try:
        p = geocode_zip(a.zip)
    except UnknownZip as e:
        raise Invalid(str(e)) from e
    return p.lat, p.lon


class Carrier:
    def __init__(self, rate_card: dict[str, Any], rng: random.Random) -> None:
        self.card = rate_card
        self.rng = rng
        self.quotes: dict[str, RateQuote] = {}
        self.labels: dict[str, dict[str, Any]] = {}

    def _zone(self, a: Address, b: Address) -> str:
        miles = haversine_miles(*_point(a), *_point(b))
        for limit, zone in self.card["zones"]:
            if limit is None or miles <= limit:
                return str(zone)
        return str(self.card["zones"][-1][1])

    def _quote(self, shipment_id: str, carrier: str, service: str, zone: str, lb: int) -> RateQuote:
        table = self.card["services"][service]
        price = (Decimal(table["base"][zone]) + Decimal(table["per_lb"][zone]) * lb) * CARRIERS[
            carrier
        ][service]
        rate_id = (
            "rt_" + hashlib.sha256(f"{shipment_id}|{carrier}|{service}".encode()).hexdigest()[:16]
        )
        return RateQuote(
            rate_id=rate_id,
            carrier=carrier,
            service=service,
            amount=Money(amount=price.quantize(CENTS, ROUND_HALF_EVEN), currency="USD"),
            transit_days=int(table["transit_days"][zone]),
        )

    def quote(self, req: RateRequest) -> list[RateQuote]:
        zone = self._zone(req.ship_from, req.ship_to)
        lb = max(1, math.ceil(req.parcel.weight_lb))  # carriers bill whole pounds
        services = [req.service] if req.service else list(self.card["services"])
        unknown = [s for s in services if s not in self.card["services"]]
        if unknown:
            raise Invalid(f"unknown service {unknown[0]!r}")
        quotes = [self._quote(req.shipment_id, c, s, zone, lb) for s in services for c in CARRIERS]
        for q in quotes:
            self.quotes[q.rate_id] = q
        return quotes

    # -- endpoints (effects run by Idempotent.handle) ------------------------------------------

    def rates(self, payload: dict[str, Any]) -> Outcome:
        req = RateRequest.model_validate(payload)
        quotes = self.quote(req)
        # A quote is a read: no side effect to record.
        return Outcome(
            200,
            {"shipment_id": req.shipment_id, "quotes": [q.model_dump(mode="json") for q in quotes]},
        )

    def buy_label(self, payload: dict[str, Any]) -> Outcome:
        req = LabelRequest.model_validate(payload)
        if req.carrier not in CARRIERS:
            return Outcome(422, {"error": f"unknown carrier {req.carrier!r}"})
        quote = self.quotes.get(req.rate_id or "")
        if quote is None or quote.carrier != req.carrier or quote.service != req.service:
            rate = RateRequest(
                shipment_id=req.shipment_id,
                order_id=req.order_id,
                ship_from=req.ship_from,
                ship_to=req.ship_to,
                parcel=req.parcel,
                service=req.service,
            )
            quote = next(q for q in self.quote(rate) if q.carrier == req.carrier)
        label_id = f"lbl_{self.rng.getrandbits(48):012x}"
        digits = f"{self.rng.getrandbits(50):015d}"[:15]
        tracking = f"1ZSIM{digits}" if req.carrier == "UPS-SIM" else digits
        now = datetime.now(UTC).isoformat()
        label = {
            "label_id": label_id,
            "shipment_id": req.shipment_id,
            "order_id": req.order_id,
            "carrier": req.carrier,
            "service": req.service,
            "tracking": tracking,
            "cost": quote.amount.model_dump(mode="json"),
            "label_url": f"https://labels.example.invalid/{label_id}.pdf",
            "is_return": req.is_return,
            "status": "purchased",
            "voided": False,
            "created_at": now,
            "updated_at": now,
        }
        self.labels[label_id] = label
        kind = "return" if req.is_return else "outbound"
        return Outcome(201, label, subject=f"label:{req.shipment_id}:{kind}")

    def void(self, label_id: str) -> Outcome:
        label = self.labels.get(label_id)
        if label is None:
            return Outcome(404, {"error": f"no label {label_id}"})
        if label["status"] == "voided":
            return Outcome(200, {"label_id": label_id, "status": "voided"})
        label.update(status="voided", voided=True, updated_at=datetime.now(UTC).isoformat())
        return Outcome(200, {"label_id": label_id, "status": "voided"}, subject=f"void:{label_id}")

    def reset(self) -> None:
        self.quotes.clear()
        self.labels.clear()
