"""Runtime configuration, read from the environment so that the same code runs on a laptop
(embedded dev server + SQLite) and in production (a Temporal cluster or Cloud + PostgreSQL)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dom_workflows.network import NodeSla

TASK_QUEUE = "dom-orders"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_api_key: str | None = None
    temporal_tls: bool = False
    task_queue: str = TASK_QUEUE
    dom_home: Path = field(default_factory=lambda: Path(".dom"))
    database_url: str = ""
    network_path: Path = PROJECT_ROOT / "examples" / "network.json"
    policy_path: Path = PROJECT_ROOT / "examples" / "policy.yaml"
    partner_secrets_path: Path = PROJECT_ROOT / "examples" / "partners.json"
    # Base URL of the partner simulator; nodes without an endpoint, the carrier, the payment
    # provider and suppliers default to routes under it (see docs and `dom simulate partners`).
    partner_sim_url: str | None = None
    carrier_url: str | None = None
    payment_url: str | None = None
    supplier_url: str | None = None
    api_url: str = "http://127.0.0.1:8000"
    # Overrides the network's order_policy.consolidation_window (the demo turns it on).
    consolidation_window: timedelta | None = None
    # Replaces every node type's SLA (the demo's partners answer in seconds, not hours).
    sla_override: NodeSla | None = None

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("DOM_HOME", ".dom"))
        api_key = os.environ.get("TEMPORAL_API_KEY") or None
        sim = os.environ.get("DOM_PARTNER_SIM_URL") or None
        return cls(
            temporal_address=_env("TEMPORAL_ADDRESS", "localhost:7233"),
            temporal_namespace=_env("TEMPORAL_NAMESPACE", "default"),
            temporal_api_key=api_key,
            # Temporal Cloud with an API key always needs TLS.
            temporal_tls=_env("TEMPORAL_TLS", "true" if api_key else "false").lower() == "true",
            task_queue=_env("DOM_TASK_QUEUE", TASK_QUEUE),
            dom_home=home,
            database_url=_env("DOM_DATABASE_URL", f"sqlite+aiosqlite:///{home / 'dom.db'}"),
            network_path=Path(_env("DOM_NETWORK", str(PROJECT_ROOT / "examples" / "network.json"))),
            policy_path=Path(_env("DOM_POLICY", str(PROJECT_ROOT / "examples" / "policy.yaml"))),
            partner_secrets_path=Path(
                _env("DOM_PARTNER_SECRETS", str(PROJECT_ROOT / "examples" / "partners.json"))
            ),
            partner_sim_url=sim,
            carrier_url=os.environ.get("DOM_CARRIER_URL") or (f"{sim}/carrier" if sim else None),
            payment_url=os.environ.get("DOM_PAYMENT_URL") or (f"{sim}/payments" if sim else None),
            supplier_url=os.environ.get("DOM_SUPPLIER_URL")
            or (f"{sim}/suppliers" if sim else None),
            api_url=_env("DOM_API_URL", "http://127.0.0.1:8000"),
            consolidation_window=(
                timedelta(seconds=float(os.environ["DOM_CONSOLIDATION_SECONDS"]))
                if os.environ.get("DOM_CONSOLIDATION_SECONDS")
                else None
            ),
        )
