"""Runtime configuration, read from the environment so that the same code runs on a laptop
(embedded dev server + SQLite) and in production (a Temporal cluster or Cloud + PostgreSQL)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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
    partner_secrets_path: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("DOM_HOME", ".dom"))
        api_key = os.environ.get("TEMPORAL_API_KEY") or None
        secrets = os.environ.get("DOM_PARTNER_SECRETS")
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
            partner_secrets_path=Path(secrets) if secrets else None,
        )
