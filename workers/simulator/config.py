"""Simulator settings: delays, rejection and fault rates. Changeable at runtime (POST /_config)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.config import PROJECT_ROOT


class SimConfig(BaseModel):
    model_config = ConfigDict(validate_assignment=True)

    api_url: str = "http://127.0.0.1:8000"
    # Seconds from receiving a request to posting the event, and between later events.
    accept_delay: float = Field(default=2.0, ge=0)
    ship_delay: float = Field(default=4.0, ge=0)
    deliver_delay: float = Field(default=6.0, ge=0)
    # +/- this fraction of random jitter on each delay, so a demo does not move in lockstep.
    jitter: float = Field(default=0.25, ge=0, le=1)
    reject_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of accepted requests that then never ship (a parcel stuck on the dock): the DOM's
    # ship SLA must catch it, cancel at the node and re-route.
    stall_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of partner calls answered 500; half of those fail *after* applying the effect, the
    # nasty case that only an idempotency key makes safe to retry.
    fail_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of partner calls that apply the effect and then answer only after `slow_seconds`,
    # past any sensible client timeout.
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    slow_seconds: float = Field(default=15.0, ge=0)
    # How long to keep retrying an event post while the API is down or failing.
    event_give_up_after: float = Field(default=600.0, ge=0)
    # Event types a node records but never posts (e.g. ["fulfillment.rejected"]): a lost event,
    # which only reconciliation (`dom reconcile`) can find.
    drop_events: list[str] = Field(default_factory=list)
    seed: int | None = None


def load_secrets(path: str | Path | None = None) -> dict[str, str]:
    """Partner id -> webhook secret, the same file the API verifies signatures with. During a
    rotation (a list, or {"secrets": [...]}) partners sign with the current, first, secret."""
    p = Path(path) if path else PROJECT_ROOT / "examples" / "partners.json"
    data: dict[str, Any] = json.loads(p.read_text())
    out: dict[str, str] = {}
    for k, v in data.get("partners", {}).items():
        if isinstance(v, dict):
            v = v.get("secrets") or [""]
        out[str(k)] = str(v[0] if isinstance(v, list) else v)
    return out


def load_rate_card(path: str | Path | None = None) -> dict[str, Any]:
    """The carrier rate card (zones, services) from the network file: realistic demo quotes."""
    p = Path(path) if path else PROJECT_ROOT / "examples" / "network.json"
    rates: dict[str, Any] = json.loads(p.read_text())["rates"]
    return rates
