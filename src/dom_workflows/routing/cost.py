"""The cost model, in integer cents. One function prices a shipment; one prices a whole allocation.

Every strategy is judged by `allocation_cost`, so the strategies can only differ in which
allocation they pick, never in how it is priced.
"""

from __future__ import annotations

from dataclasses import dataclass

from .problem import PICKUP_SERVICE, Cand, Problem

# cand index -> units per order SKU index. The BOPIS pickup node's own units are not in here:
# they are fixed by the problem (`Problem.forced`).
Alloc = dict[int, list[int]]


@dataclass(frozen=True, slots=True)
class ShipmentCost:
    service: str
    transit_days: int
    billable_lb: int
    shipping: int
    handling: int
    adjust: int

    @property
    def total(self) -> int:
        return self.shipping + self.handling + self.adjust


def billable_lb(weight_milli: int) -> int:
    return -(-weight_milli // 1000)


def shipment_cost(cand: Cand, units: int, weight_milli: int) -> ShipmentCost:
    """Shipping = base + per_lb x ceil(lb) of the cheapest allowed service; handling per shipment + unit."""
    handling = cand.per_shipment + cand.per_unit * units
    if cand.in_place:
        return ShipmentCost(PICKUP_SERVICE, 0, 0, 0, handling, cand.adjust)
    lb = billable_lb(weight_milli)
    best = cand.services[0]
    best_cost = best.base + best.per_lb * lb
    for opt in cand.services[1:]:
        c = opt.base + opt.per_lb * lb
        if c < best_cost:
            best, best_cost = opt, c
    return ShipmentCost(best.name, best.transit_days, lb, best_cost, handling, cand.adjust)


def shipment_total(cand: Cand, units: int, weight_milli: int) -> int:
    """`shipment_cost(...).total` without the allocation; the search calls it in its inner loop."""
    total = cand.per_shipment + cand.per_unit * units + cand.adjust
    if cand.in_place:
        return total
    lb = -(-weight_milli // 1000)
    return total + min(o.base + o.per_lb * lb for o in cand.services)


@dataclass(frozen=True, slots=True)
class AllocCost:
    total: int
    shipping: int
    handling: int
    adjust: int
    split: int
    backorder: int
    shipments: int
    backordered_units: int


def allocation_cost(prob: Problem, alloc: Alloc) -> AllocCost:
    """Total = shipping + handling + adjustments + split penalty + backorder penalty (cents)."""
    shipping = handling = adjust = 0
    ships = 0
    shipped = list(prob.forced) if prob.forced else [0] * len(prob.skus)
    parts: list[tuple[Cand, list[int]]] = []
    if prob.pickup is not None and prob.forced and any(prob.forced):
        parts.append((prob.pickup, prob.forced))
    for j, qty in alloc.items():
        if any(qty):
            parts.append((prob.cands[j], qty))
            for i, q in enumerate(qty):
                shipped[i] += q
    for cand, qty in parts:
        units = sum(qty)
        weight = sum(q * w for q, w in zip(qty, prob.weight, strict=True))
        sc = shipment_cost(cand, units, weight)
        shipping += sc.shipping
        handling += sc.handling
        adjust += sc.adjust
        ships += 1
    bo_units = sum(d - s for d, s in zip(prob.demand, shipped, strict=True))
    split = prob.split * (ships - 1) if ships else 0
    backorder = prob.backorder * bo_units
    return AllocCost(
        total=shipping + handling + adjust + split + backorder,
        shipping=shipping,
        handling=handling,
        adjust=adjust,
        split=split,
        backorder=backorder,
        shipments=ships,
        backordered_units=bo_units,
    )


def check_feasible(prob: Problem, alloc: Alloc) -> None:
    """Raise AssertionError naming the violated constraint; used by tests and as a self-check."""
    shipped = list(prob.forced) if prob.forced else [0] * len(prob.skus)
    ships = 1 if prob.forced and any(prob.forced) else 0
    for j, qty in alloc.items():
        cand = prob.cands[j]
        if any(q < 0 for q in qty):
            raise AssertionError(f"negative quantity at {cand.node}")
        for i, q in enumerate(qty):
            if q > cand.stock[i]:
                raise AssertionError(
                    f"{cand.node} ships {q} {prob.skus[i]} > usable {cand.stock[i]}"
                )
            shipped[i] += q
        if any(qty):
            ships += 1
    for i, s in enumerate(shipped):
        if s > prob.demand[i]:
            raise AssertionError(f"{prob.skus[i]}: {s} units planned > {prob.demand[i]} ordered")
    if ships > prob.max_shipments:
        raise AssertionError(f"{ships} shipments > max_shipments {prob.max_shipments}")
