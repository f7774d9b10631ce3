"""The anchors' documented strategies, reproduced on the same problem and constraints.

- priority (Magento MSI source priority, Saleor, Solidus, Sylius): walk nodes by priority, fill greedily.
- distance (Magento MSI distance algorithm): nearest node first, fill greedily.
- shopify: fewest shipments that cover what can be covered, then the closest such set
  (smallest farthest distance); units come from the nearest node of the set first.
  Shopify's "stay in market" step is a no-op for a single-country network.
- fewest-splits (Salesforce OMS): fewest shipments, then lowest average distance.

They see exactly the candidates, usable stock, services and shipment cap that `optimal`
sees, so every plan they produce is feasible and is priced by the same cost model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from .cost import Alloc
from .problem import Problem

# Above this many node sets per size, the set search extends the best smaller set by one node.
COMBINATION_LIMIT = 4000


def _fill(prob: Problem, order: Sequence[int]) -> Alloc:
    rem = prob.remaining
    slots = prob.max_shipments - prob.base_shipments
    alloc: Alloc = {}
    for j in order:
        if len(alloc) >= slots or not any(rem):
            break
        stock = prob.cands[j].stock
        q = [min(r, s) for r, s in zip(rem, stock, strict=True)]
        if any(q):
            alloc[j] = q
            rem = [r - x for r, x in zip(rem, q, strict=True)]
    return alloc


def solve_priority(prob: Problem) -> Alloc:
    c = prob.cands
    return _fill(
        prob, sorted(range(len(c)), key=lambda j: (c[j].priority, c[j].distance, c[j].node))
    )


def solve_distance(prob: Problem) -> Alloc:
    c = prob.cands
    return _fill(
        prob, sorted(range(len(c)), key=lambda j: (c[j].distance, c[j].priority, c[j].node))
    )


TieKey = Callable[[Sequence[float]], tuple[float, ...]]


def _fewest_sets(prob: Problem, tie: TieKey) -> Alloc:
    rem = prob.remaining
    slots = prob.max_shipments - prob.base_shipments
    cands = prob.cands
    useful = [
        j for j, c in enumerate(cands) if any(s and r for s, r in zip(c.stock, rem, strict=True))
    ]
    if slots <= 0 or not useful:
        return {}
    target = sum(min(r, sum(cands[j].stock[i] for j in useful)) for i, r in enumerate(rem))

    def coverage(nodes: Sequence[int]) -> int:
        return sum(min(r, sum(cands[j].stock[i] for j in nodes)) for i, r in enumerate(rem) if r)

    def key(nodes: Sequence[int]) -> tuple[int, tuple[float, ...], tuple[str, ...]]:
        dists = sorted(cands[j].distance for j in nodes)
        return (-coverage(nodes), tie(dists), tuple(sorted(cands[j].node for j in nodes)))

    best: tuple[int, ...] | None = None
    best_key: tuple[int, tuple[float, ...], tuple[str, ...]] | None = None
    level_best: tuple[int, ...] = ()
    for k in range(1, min(slots, len(useful)) + 1):
        if math.comb(len(useful), k) <= COMBINATION_LIMIT:
            sets: Sequence[tuple[int, ...]] = list(itertools.combinations(useful, k))
        else:
            sets = [(*level_best, j) for j in useful if j not in level_best]
        level_best = min(sets, key=key)
        level_key = key(level_best)
        if best_key is None or level_key[0] < best_key[0]:
            best, best_key = level_best, level_key
        if -level_key[0] >= target:
            break
    assert best is not None
    return _fill(prob, sorted(best, key=lambda j: (cands[j].distance, cands[j].node)))


def solve_shopify(prob: Problem) -> Alloc:
    # Closest set: the farthest node as near as possible, then the total distance.
    return _fewest_sets(prob, lambda d: (d[-1], sum(d)))


def solve_fewest_splits(prob: Problem) -> Alloc:
    return _fewest_sets(prob, lambda d: (sum(d) / len(d),))
