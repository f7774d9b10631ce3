"""Turn an allocation into a Plan a person can read: shipments, costs, and why."""

from __future__ import annotations

from decimal import Decimal

from .cost import Alloc, allocation_cost, shipment_cost
from .models import (
    Adjustment,
    Alternative,
    Candidate,
    CostBreakdown,
    Explanation,
    Plan,
    PlanLine,
    PlannedShipment,
)
from .problem import Cand, Problem


def dollars(c: int) -> Decimal:
    return Decimal(c).scaleb(-2)


def money(d: Decimal) -> str:
    sign = "-" if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


class _LineQueue:
    """Hands out a SKU's units line by line, so each planned line keeps its order line_id."""

    def __init__(self, lines: list[tuple[str | None, int]]) -> None:
        self.ids = [lid for lid, _ in lines]
        self.left = [q for _, q in lines]

    @property
    def remaining(self) -> int:
        return sum(self.left)

    def take(self, sku: str, qty: int) -> list[PlanLine]:
        out: list[PlanLine] = []
        for k, avail in enumerate(self.left):
            if qty <= 0:
                break
            n = min(qty, avail)
            if n <= 0:
                continue
            self.left[k] -= n
            qty -= n
            out.append(PlanLine(sku=sku, qty=n, line_id=self.ids[k]))
        return out


def _shipment(
    prob: Problem, cand: Cand, qty: list[int], queues: list[_LineQueue]
) -> PlannedShipment:
    units = sum(qty)
    weight = sum(q * w for q, w in zip(qty, prob.weight, strict=True))
    sc = shipment_cost(cand, units, weight)
    lines: list[PlanLine] = []
    for i, q in enumerate(qty):
        if q:
            lines.extend(queues[i].take(prob.skus[i], q))
    return PlannedShipment(
        node=cand.node,
        node_type=cand.type,
        lines=lines,
        service=sc.service,
        zone=cand.zone,
        distance_miles=round(cand.distance, 1),
        transit_days=sc.transit_days,
        billable_lb=sc.billable_lb,
        shipping_cost=dollars(sc.shipping),
        handling_cost=dollars(sc.handling),
        adjustments=[Adjustment(rule=r, amount=dollars(a)) for r, a in cand.adjustments],
    )


def candidates(prob: Problem) -> list[Candidate]:
    rem = prob.remaining
    out = []
    every = ([prob.pickup] if prob.pickup else []) + prob.cands
    for c in every:
        need = prob.demand if c.in_place else rem
        out.append(
            Candidate(
                node=c.node,
                node_type=c.type,
                distance_miles=round(c.distance, 1),
                zone=c.zone,
                service="/".join(s.name for s in c.services) or "pickup",
                transit_days=c.transit_days,
                usable_units=sum(min(r, s) for r, s in zip(need, c.stock, strict=True)),
            )
        )
    return out


def build_plan(prob: Problem, alloc: Alloc, strategy: str) -> Plan:
    """The Plan for an allocation; the explanation's alternatives and summary are filled later."""
    queues = [_LineQueue(lines) for lines in prob.lines]
    shipments: list[PlannedShipment] = []
    if prob.pickup is not None and prob.forced and any(prob.forced):
        shipments.append(_shipment(prob, prob.pickup, prob.forced, queues))
    for j in sorted(alloc, key=lambda j: (prob.cands[j].distance, prob.cands[j].node)):
        if any(alloc[j]):
            shipments.append(_shipment(prob, prob.cands[j], alloc[j], queues))
    backordered: list[PlanLine] = []
    for i, q in enumerate(queues):
        left = q.remaining
        if left:
            backordered.extend(q.take(prob.skus[i], left))
    ac = allocation_cost(prob, alloc)
    return Plan(
        strategy=strategy,
        order_id=prob.order_id,
        shipments=shipments,
        backordered=backordered,
        total_cost=dollars(ac.total),
        shipments_count=ac.shipments,
        cost_breakdown=CostBreakdown(
            shipping=dollars(ac.shipping),
            handling=dollars(ac.handling),
            split_penalty=dollars(ac.split),
            backorder_penalty=dollars(ac.backorder),
            rule_adjustments=dollars(ac.adjust),
        ),
        explanation=Explanation(
            summary="",
            candidates=candidates(prob),
            excluded=list(prob.excluded),
            rules_applied=list(prob.rules_applied),
            notes=list(prob.notes),
        ),
    )


def alternative(plan: Plan, other: Plan) -> Alternative:
    return Alternative(
        strategy=other.strategy,
        total_cost=other.total_cost,
        delta=other.total_cost - plan.total_cost,
        shipments_count=other.shipments_count,
        nodes=[s.node for s in other.shipments],
        backordered_units=other.backordered_units,
    )


def summarize(plan: Plan) -> str:
    """One line for the Temporal UI, e.g. '2 shipments from a, b; $23.41; cheapest alternative +$4.10 (distance)'."""
    n = plan.shipments_count
    if n:
        head = (
            f"{n} shipment{'s' if n != 1 else ''} from {', '.join(s.node for s in plan.shipments)}"
        )
    else:
        head = "no shipments"
    parts = [head, money(plan.total_cost)]
    bo = plan.backordered_units
    if bo:
        parts.append(f"{bo} unit{'s' if bo != 1 else ''} backordered")
    mine = sorted(s.node for s in plan.shipments)
    different = [
        a for a in plan.explanation.alternatives if sorted(a.nodes) != mine or a.delta != 0
    ]
    if different:
        best = min(different, key=lambda a: (a.delta, a.strategy))
        sign = "+" if best.delta >= 0 else "-"
        parts.append(f"cheapest alternative {sign}{money(abs(best.delta))} ({best.strategy})")
    elif plan.explanation.alternatives:
        parts.append("all strategies agree")
    return "; ".join(parts)
