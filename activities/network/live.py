"""The active network version as routing uses it, cached by version number: each routing attempt
costs one `max(version)` query, and the document is read and validated only when the number
changed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.network import store
from dom_workflows.inventory.models import ReserveAndRouteInput
from dom_workflows.network import Network
from dom_workflows.network_versions.document import NetworkDocument, Resolution, resolve
from dom_workflows.network_versions.scope import ScopeSubject


@dataclass(frozen=True)
class LiveVersion:
    version: int
    policy_version: int
    document: NetworkDocument
    network: Network  # the document's network after the process's own overlay (see LiveNetworks)

    def resolve(self, inp: ReserveAndRouteInput) -> Resolution:
        return resolve(self.document, subject_of(inp))

    def policy_label(self, r: Resolution) -> str:
        return str(self.policy_version) + ("" if r.policy_name == "base" else f":{r.policy_name}")


def subject_of(inp: ReserveAndRouteInput) -> ScopeSubject:
    return ScopeSubject.of(
        inp.order.order_id,
        state=inp.destination.ship_to_state,
        zip_code=inp.destination.ship_to_zip,
        channel=inp.order.channel,
        tags=inp.order.tags,
    )


class LiveNetworks:
    """One per process. `overlay`: what the process changes in every network it runs (the
    demo's simulator endpoints and short SLAs), applied to each version it loads."""

    def __init__(self, overlay: Callable[[Network], Network] | None = None) -> None:
        self.overlay = overlay or (lambda n: n)
        self._current: LiveVersion | None = None
        self._lock = asyncio.Lock()

    async def current(self, conn: AsyncConnection) -> LiveVersion | None:
        number = await store.active_version(conn)
        if number is None:
            return None
        cached = self._current
        if cached is not None and cached.version == number:
            return cached
        async with self._lock:
            if self._current is not None and self._current.version == number:
                return self._current
            stored = await store.get(conn, number)
            assert stored is not None
            live = LiveVersion(
                version=stored.version,
                policy_version=stored.policy_version,
                document=stored.document,
                network=self.overlay(stored.document.network),
            )
            self._current = live
            return live
