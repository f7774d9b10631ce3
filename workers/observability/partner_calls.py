"""Partner call metrics: activities/common/partner_http.py reports every call to its
observers (that layer may not import this one); this registers the metrics' observer."""

from __future__ import annotations

from activities.common import partner_http
from workers.observability import metrics


def record_call(partner: str, outcome: str, seconds: float, error: str | None) -> None:
    metrics.PARTNER_CALL_DURATION.labels(partner, outcome).observe(seconds)
    if error is not None:
        metrics.PARTNER_CALL_ERRORS.labels(partner, error).inc()


def observe_partner_calls() -> None:
    """Idempotent: a process with several workers registers the observer once."""
    if record_call not in partner_http.call_observers:
        partner_http.call_observers.append(record_call)
