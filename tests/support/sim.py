"""A live partner simulator served over TCP, and what tests read from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from workers.simulator.app import Simulator


@dataclass
class LiveSim:
    sim: Simulator
    url: str
    http: httpx.AsyncClient

    def configure(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.sim.config, name, value)

    def effects(self) -> dict[str, Any]:
        return self.sim.log.effects()

    def keys_seen(self) -> dict[str, int]:
        """How many requests carried each idempotency key (retries included)."""
        seen: dict[str, int] = {}
        for e in self.sim.log.entries:
            if e.idempotency_key:
                seen[e.idempotency_key] = seen.get(e.idempotency_key, 0) + 1
        return seen
