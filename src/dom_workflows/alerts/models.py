"""What an evaluation finds, what it changed, and the alerts as ops see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

AlertStatus = Literal["open", "resolved"]
AlertEvent = Literal["opened", "resolved"]


class Finding(BaseModel):
    """One rule's condition holding for one subject at one evaluation."""

    rule_id: str
    kind: str
    subject: str
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return alert_key(self.rule_id, self.subject)


def alert_key(rule_id: str, subject: str) -> str:
    return f"{rule_id}:{subject}"


class Alert(BaseModel):
    id: int
    key: str
    rule_id: str
    kind: str
    subject: str
    severity: str
    status: AlertStatus
    summary: str
    evidence: dict[str, Any]
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None
    resolution: str = ""
    clean_evaluations: int = 0
    version: int = 1


class Transition(BaseModel):
    """An alert that opened or resolved at this evaluation."""

    alert_id: int
    key: str
    event: AlertEvent
    summary: str


class RuleError(BaseModel):
    """A rule that could not be evaluated this time: its open alerts are left as they are."""

    rule_id: str
    error: str


class EvaluateInput(BaseModel):
    # None: the activity's clock. Tests inject a time to step evaluations without waiting.
    now: datetime | None = None


class EvaluationResult(BaseModel):
    evaluated_at: datetime
    rules: int
    opened: list[Transition] = Field(default_factory=list)
    resolved: list[Transition] = Field(default_factory=list)
    updated: int = 0  # open alerts whose evidence was refreshed
    clearing: int = 0  # open alerts clear this time, not yet for long enough to resolve
    open_alerts: int = 0
    pending_deliveries: int = 0
    errors: list[RuleError] = Field(default_factory=list)


class DeliveryResult(BaseModel):
    delivered: int = 0
    pending: int = 0  # still unacknowledged after this try
    errors: list[str] = Field(default_factory=list)
