"""The promise cache: plans per cart, destination and service, valid while nothing they depend
on has moved.

A plan depends on the positions of its SKUs (each SKU's `sku_availability.version` changes with
every movement of it, in the same transaction) and on the nodes' state (settings and which nodes
are full today: the `nodes` fingerprint). Dates are not cached: they depend on the clock (a
cut-off passes) and are cheap to compute from the cached plan.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dom_workflows.routing import Plan


@dataclass(frozen=True)
class CachedPlan:
    versions: tuple[tuple[str, int], ...]
    nodes: Any
    plan: Plan


class PlanCache:
    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: OrderedDict[Any, CachedPlan] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any, versions: tuple[tuple[str, int], ...], nodes: Any) -> Plan | None:
        entry = self._entries.get(key)
        if entry is None or entry.versions != versions or entry.nodes != nodes:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.plan

    def put(self, key: Any, versions: tuple[tuple[str, int], ...], nodes: Any, plan: Plan) -> None:
        self._entries[key] = CachedPlan(versions, nodes, plan)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
