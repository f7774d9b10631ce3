"""What a reconciliation run finds, how it repairs it, and what it reports.

A finding's `key` (kind + subject) names the divergence: the same divergence found again by a
later run has the same key, and each repair's idempotency key is derived from it, so running
reconciliation twice repairs nothing the second time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from dom_workflows.order.models import ShipmentEvent

FindingKind = Literal[
    # node side
    "lost-event",  # the node reported more than the DOM shows: re-deliver its events
    "unknown-shipment",  # the node holds a request the DOM does not know
    "never-delivered",  # the DOM shows a shipment the node does not have
    "status-mismatch",  # any other disagreement about a shipment's status
    # stored partner events (activities/partner_events)
    "undelivered-event",  # stored but not yet taken by its order: re-deliver it
    "event-after-close",  # shipped after the DOM cancelled it and the order closed: escalate
    # payment side
    "orphan-capture",  # a capture for a shipment the DOM does not know: void it
    "unrecorded-capture",  # a capture for a known shipment the order does not record
    "capture-amount-mismatch",
    "payment-total-mismatch",  # the order's captured/refunded amounts vs the provider's
    "unknown-authorization",
    # carrier side
    "orphan-label",  # a live label no DOM shipment carries: void it
    # ledger
    "orphan-reservation",  # a closed order still holds reserved units: release them
    "ledger-violation",  # any other ledger invariant broken (dom inventory verify)
]
Action = Literal["repaired", "escalated", "not-repaired"]
RepairKind = Literal["redeliver-events", "void-capture", "void-label", "release-reservations"]

# What the schedule looks back over by default: two days, so a day's run overlaps the last.
DEFAULT_LOOKBACK = timedelta(days=2)
# Partner records changed more recently than this are still in flight (an event on its way).
DEFAULT_SETTLE = timedelta(minutes=5)
MAX_FINDINGS = 500  # per run, so a run's history and report stay readable


class Repair(BaseModel):
    """A safe, idempotent repair: re-deliver events to a running order, void an orphan capture
    or label at the partner, release a closed order's reservations."""

    kind: RepairKind
    idempotency_key: str
    order_id: str | None = None
    events: list[ShipmentEvent] = Field(default_factory=list)
    capture_id: str | None = None
    label_id: str | None = None


class Finding(BaseModel):
    kind: FindingKind
    subject: str  # the shipment, capture, authorization, label or order it is about
    summary: str  # one line, for people
    order_id: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)  # JSON: what each side holds
    repair: Repair | None = None  # None: only a person can decide (escalated)
    action: Action | None = None  # set when the run settles it
    action_detail: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"


class ReconcileInput(BaseModel):
    """One run. `since` None = the last DEFAULT_LOOKBACK before the run starts."""

    since: datetime | None = None
    dry_run: bool = False
    settle: timedelta = DEFAULT_SETTLE
    trigger: str = "schedule"


class FindInput(BaseModel):
    since: datetime
    now: datetime
    settle: timedelta = DEFAULT_SETTLE


class Divergences(BaseModel):
    findings: list[Finding] = Field(default_factory=list)
    # What was compared (records per source) and what could not be (a partner without listings).
    compared: dict[str, int] = Field(default_factory=dict)
    not_compared: list[str] = Field(default_factory=list)
    truncated: bool = False


class SettleInput(BaseModel):
    run_id: str
    trigger: str
    since: datetime
    started_at: datetime
    dry_run: bool
    found: Divergences


class ReconcileReport(BaseModel):
    run_id: str
    trigger: str
    since: datetime
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool = False
    findings: list[Finding] = Field(default_factory=list)
    compared: dict[str, int] = Field(default_factory=dict)
    not_compared: list[str] = Field(default_factory=list)
    truncated: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for f in self.findings if f.action == action)
