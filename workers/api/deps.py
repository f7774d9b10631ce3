"""What the API needs at run time, built once per process and shared by every request."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from dom_workflows.network import Network
from workers.api.apikeys import KeyCache
from workers.api.security import PartnerSecrets
from workers.client import DomClient


@dataclass
class ApiDeps:
    dom: DomClient
    engine: AsyncEngine
    network: Network
    secrets: PartnerSecrets
    # Injected so signature freshness is testable without sleeping.
    clock: Callable[[], float] = field(default=time.time)
    # Verified API keys, kept a few seconds (apikeys.KEY_CACHE_SECONDS; 0 = always ask the DB).
    api_keys: KeyCache = field(default_factory=KeyCache)
    # The promise service and its plan cache (workers/api/promise.py), made on first use.
    promise: Any = None
    # For read-only routes: on SQLite its transactions are deferred (never take the write lock).
    reader: AsyncEngine | None = None


def get_deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps
