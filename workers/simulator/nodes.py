"""Fulfilment nodes (warehouses, 3PLs, stores) and the shared fulfilment lifecycle.

A request is taken at once (202); what happens next arrives as partner events after the
configured delays: accepted (or rejected, at `reject_rate`), shipped with carrier and tracking,
delivered. Cancelling before the parcel ships stops the pending events. Dropship suppliers
(suppliers.py) reuse the same lifecycle for purchase orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dom_workflows.fulfillment.models import FulfillmentRequest
from dom_workflows.partners.models import PartnerEvent, PartnerEventType
from workers.simulator.config import SimConfig
from workers.simulator.events import EventPoster
from workers.simulator.idempotency import Outcome

log = logging.getLogger("dom.simulator.nodes")

REJECT_REASONS = [
    "stock discrepancy at cycle count",
    "node at capacity for today's wave",
    "item damaged on pick",
]
CANCELLABLE = ("received", "accepted", "stalled")


@dataclass
class Job:
    shipment_id: str
    order_id: str
    partner: str
    service: str
    kind: str  # "node" | "supplier"
    group: str | None = None  # consolidation group: its shipments leave as one parcel
    status: str = "received"
    carrier: str | None = None
    tracking: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    # What reconciliation asks for (GET .../fulfillment-requests): the lines as requested, when
    # the request arrived and last changed, and every event the partner sent about it.
    lines: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: list[dict[str, Any]] = field(default_factory=list)

    def move(self, status: str) -> None:
        self.status = status
        self.updated_at = datetime.now(UTC)

    def view(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "order_id": self.order_id,
            "partner": self.partner,
            "kind": self.kind,
            "status": self.status,
            "carrier": self.carrier,
            "tracking": self.tracking,
        }

    def record(self) -> dict[str, Any]:
        """The full record a partner's listing serves."""
        return {
            **self.view(),
            "service": self.service,
            "lines": self.lines,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "events": self.history,
        }


def carrier_for(service: str) -> str:
    return "UPS-SIM" if service == "ground" else "FEDEX-SIM"


def tracking_for(carrier: str, shipment_id: str) -> str:
    digest = int(hashlib.sha256(shipment_id.encode()).hexdigest()[:15], 16)
    return f"1ZSIM{digest:016d}"[:18] if carrier == "UPS-SIM" else f"{digest:015d}"[:15]


class Fulfilments:
    def __init__(self, config: SimConfig, poster: EventPoster, rng: random.Random) -> None:
        self.config = config
        self.poster = poster
        self.rng = rng
        self.jobs: dict[str, Job] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    # -- requests -----------------------------------------------------------------------------

    def request(self, partner: str, payload: dict[str, Any]) -> Outcome:
        req = FulfillmentRequest.model_validate(payload)
        lines = [ln.model_dump(mode="json") for ln in req.lines]
        return self.take(
            partner,
            req.shipment_id,
            req.order_id,
            req.service,
            "node",
            req.consolidation_group,
            lines=lines,
        )

    def take(
        self,
        partner: str,
        shipment_id: str,
        order_id: str,
        service: str,
        kind: str,
        group: str | None = None,
        *,
        lines: list[dict[str, Any]] | None = None,
    ) -> Outcome:
        if not self.poster.knows(partner):
            # Without a secret its events could not be signed: make the misconfiguration loud.
            return Outcome(404, {"error": f"unknown partner {partner!r} (no webhook secret)"})
        existing = self.jobs.get(shipment_id)
        if existing is not None:
            # Same shipment under another key: taken already, and no second parcel.
            return Outcome(409, {"error": "already received", **existing.view()})
        job = Job(shipment_id, order_id, partner, service, kind, group, lines=lines or [])
        self.jobs[shipment_id] = job
        job.task = asyncio.get_running_loop().create_task(self._lifecycle(job))
        self.tasks.add(job.task)
        job.task.add_done_callback(self.tasks.discard)
        return Outcome(202, job.view(), subject=f"{kind}-request:{shipment_id}")

    def amend(self, partner: str, shipment_id: str, payload: dict[str, Any]) -> Outcome:
        job = self.jobs.get(shipment_id)
        if job is None or job.partner != partner:
            return Outcome(404, {"error": f"no request {shipment_id} at {partner}"})
        if job.status not in CANCELLABLE:
            return Outcome(409, {"error": f"cannot amend: {job.status}", **job.view()})
        units = sum(int(line.get("qty", 0)) for line in payload.get("lines", []))
        job.lines = [dict(line) for line in payload.get("lines", [])]
        job.updated_at = datetime.now(UTC)
        return Outcome(
            200,
            {**job.view(), "units": units},
            subject=f"amend:{shipment_id}:{payload.get('seq')}",
        )

    def cancel(self, partner: str, shipment_id: str) -> Outcome:
        job = self.jobs.get(shipment_id)
        if job is None or job.partner != partner:
            return Outcome(404, {"error": f"no request {shipment_id} at {partner}"})
        if job.status == "cancelled":
            return Outcome(200, job.view())
        if job.status not in CANCELLABLE:
            return Outcome(409, {"error": f"cannot cancel: {job.status}", **job.view()})
        job.move("cancelled")
        if job.task is not None:
            job.task.cancel()
        return Outcome(200, job.view(), subject=f"{job.kind}-cancel:{shipment_id}")

    # -- what the partner does next -----------------------------------------------------------

    def _delay(self, base: float) -> float:
        spread = base * self.config.jitter
        return max(0.0, base + self.rng.uniform(-spread, spread))

    async def _emit(self, job: Job, type_: PartnerEventType, **fields: Any) -> None:
        event = PartnerEvent(
            event_id=f"{job.shipment_id}:{type_.split('.')[-1]}",
            type=type_,
            shipment_id=job.shipment_id,
            order_id=job.order_id,
            occurred_at=datetime.now(UTC),
            **fields,
        )
        job.history.append(event.model_dump(mode="json", exclude_none=True))
        if type_ in self.config.drop_events:
            # Fault injection: the partner believes it reported this, the DOM never hears it.
            log.info("dropping %s (drop_events)", event.event_id)
            return
        # Posted by the poster's senders: cancelling this job never cancels a request.
        await self.poster.deliver(job.partner, event)

    async def _lifecycle(self, job: Job) -> None:
        try:
            await asyncio.sleep(self._delay(self.config.accept_delay))
            if self.rng.random() < self.config.reject_rate:
                job.move("rejected")
                reason = self.rng.choice(REJECT_REASONS)
                await self._emit(job, "fulfillment.rejected", reason=reason)
                return
            job.move("accepted")
            await self._emit(job, "fulfillment.accepted")
            if self.rng.random() < self.config.stall_rate:
                job.move("stalled")  # never ships: the DOM's ship SLA has to notice
                return
            await asyncio.sleep(self._delay(self.config.ship_delay))
            if job.status == "cancelled":
                return
            # From here on the parcel is with the carrier and can no longer be cancelled.
            job.move("shipped")
            job.carrier = carrier_for(job.service)
            # Consolidated shipments are one parcel: one tracking number for the group.
            job.tracking = tracking_for(job.carrier, job.group or job.shipment_id)
            await self._emit(job, "shipment.shipped", carrier=job.carrier, tracking=job.tracking)
            await asyncio.sleep(self._delay(self.config.deliver_delay))
            job.move("delivered")
            await self._emit(job, "shipment.delivered", carrier=job.carrier, tracking=job.tracking)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not kill the simulator; it shows in its log
            log.exception("lifecycle of %s failed", job.shipment_id)

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()

    async def reset(self) -> None:
        await self.aclose()
        self.jobs.clear()
