"""Turn a Scenario into the compact numeric problem every strategy solves.

All money becomes integer cents and all weights integer milli-pounds here, so the search
compares exact integers (no float drift, no Decimal cost in the inner loop). Every node
that cannot take part is recorded with the reason, for the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from ..geo import UnknownZip, geocode_zip, haversine_miles
from .errors import RoutingError
from .models import ExcludedNode, Node, Rates, Scenario
from .rules import OrderFacts, evaluate_rules

PICKUP_SERVICE = "pickup"


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class ServiceOption:
    name: str
    transit_days: int
    base: int  # cents
    per_lb: int  # cents per billable pound


@dataclass(slots=True)
class Cand:
    """A node able to supply at least one unit of the order."""

    node: str
    type: str
    priority: int
    distance: float
    zone: str
    # The services this node may ship with; the cheapest for the shipment's weight is used.
    # More than one only when a rule requires the fastest service and several tie on days.
    services: tuple[ServiceOption, ...]
    per_shipment: int  # handling, cents
    per_unit: int  # handling, cents
    adjustments: tuple[tuple[str, int], ...]  # (rule, cents) per shipment
    stock: list[int]  # usable units per order SKU index
    in_place: bool = False  # the BOPIS pickup node handing over its own units
    adjust: int = field(init=False)  # total rule adjustments per shipment, cents

    def __post_init__(self) -> None:
        self.adjust = sum(a for _, a in self.adjustments)

    @property
    def min_base(self) -> int:
        return 0 if self.in_place else min(s.base for s in self.services)

    @property
    def min_per_lb(self) -> int:
        return 0 if self.in_place else min(s.per_lb for s in self.services)

    @property
    def max_per_lb(self) -> int:
        return 0 if self.in_place else max(s.per_lb for s in self.services)

    @property
    def fixed(self) -> int:
        """Cost of using the node at all, before any unit or pound."""
        return self.per_shipment + self.adjust + self.min_base

    @property
    def transit_days(self) -> int:
        return 0 if self.in_place else min(s.transit_days for s in self.services)


@dataclass(slots=True)
class Problem:
    order_id: str
    skus: list[str]
    demand: list[int]
    weight: list[int]  # milli-lb per unit
    lines: list[list[tuple[str | None, int]]]  # per SKU: the order lines (line_id, qty) in order
    cands: list[Cand]
    max_shipments: int
    split: int  # cents per shipment beyond the first
    backorder: int  # cents per unit
    pickup: Cand | None = None  # set for BOPIS; its forced units are used in place
    forced: list[int] = field(default_factory=list)
    excluded: list[ExcludedNode] = field(default_factory=list)
    rules_applied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dest: tuple[float, float] = (0.0, 0.0)

    @property
    def remaining(self) -> list[int]:
        """Demand left for shipping candidates once the pickup node's own units are used."""
        if not self.forced:
            return list(self.demand)
        return [d - f for d, f in zip(self.demand, self.forced, strict=True)]

    @property
    def base_shipments(self) -> int:
        return 1 if self.forced and sum(self.forced) > 0 else 0


def zone_for(rates: Rates, miles: float) -> str:
    for max_miles, zone in rates.zones:
        if max_miles is None or miles <= max_miles:
            return zone
    raise RoutingError(f"rates.zones has no band for {miles:.1f} miles; end it with [null, zone]")


def _milli_lb(weight: Decimal) -> int:
    return int((weight * 1000).to_integral_value(ROUND_CEILING))


def _services_for(
    node: Node, rates: Rates, zone: str, service_level: str, promise: int | None, fastest: bool
) -> tuple[tuple[ServiceOption, ...], str | None]:
    """The node's allowed service options, or None and the reason it cannot ship this order."""

    def option(name: str) -> ServiceOption | None:
        rate = rates.services.get(name)
        if rate is None or zone not in rate.transit_days or zone not in rate.base:
            return None
        per_lb = rate.per_lb.get(zone, Decimal(0))
        return ServiceOption(name, rate.transit_days[zone], cents(rate.base[zone]), cents(per_lb))

    if not fastest:
        if service_level not in node.services:
            return (), f"does not offer {service_level}"
        opt = option(service_level)
        if opt is None:
            return (), f"no {service_level} rate for zone {zone}"
        if promise is not None and opt.transit_days > promise:
            return (), (
                f"promise: {service_level} to zone {zone} takes {opt.transit_days} days"
                f" > promise {promise}"
            )
        return (opt,), None
    opts = [o for o in (option(s) for s in node.services) if o is not None]
    if not opts:
        return (), f"no rated service for zone {zone}"
    ok = [o for o in opts if promise is None or o.transit_days <= promise]
    if not ok:
        best = min(o.transit_days for o in opts)
        return (), f"promise: fastest service to zone {zone} takes {best} days > promise {promise}"
    fastest_days = min(o.transit_days for o in ok)
    return tuple(
        sorted((o for o in ok if o.transit_days == fastest_days), key=lambda o: o.name)
    ), None


def _balance(per_utilisation: Decimal, utilisation: float | None) -> tuple[tuple[str, int], ...]:
    """The load-balancing term: a per-shipment adjustment, so every strategy prices it alike."""
    if not per_utilisation or not utilisation:
        return ()
    amount = cents(per_utilisation * Decimal(str(round(utilisation, 4))))
    return (("balance", amount),) if amount else ()


def build_problem(scenario: Scenario) -> Problem:
    """Validate the scenario's references and compute candidates; raises RoutingError."""
    order = scenario.order
    policy = scenario.policy
    nodes = {n.id: n for n in scenario.nodes}
    if len(nodes) != len(scenario.nodes):
        raise RoutingError("duplicate node ids in scenario.nodes")
    catalog = {s.sku: s for s in scenario.skus}
    if order.service_level not in scenario.rates.services:
        raise RoutingError(
            f"order.service_level {order.service_level!r} is not in rates.services "
            f"({', '.join(sorted(scenario.rates.services))})"
        )

    skus: list[str] = []
    demand: list[int] = []
    lines: list[list[tuple[str | None, int]]] = []
    index: dict[str, int] = {}
    value = Decimal(0)
    for n, line in enumerate(order.lines, 1):
        sku = catalog.get(line.sku)
        if sku is None:
            raise RoutingError(f"order line {n}: unknown SKU {line.sku!r}")
        if line.sku not in index:
            index[line.sku] = len(skus)
            skus.append(line.sku)
            demand.append(0)
            lines.append([])
        i = index[line.sku]
        demand[i] += line.qty
        lines[i].append((line.line_id, line.qty))
        price = line.unit_price if line.unit_price is not None else sku.price
        value += line.qty * (price or Decimal(0))

    # Destination: the pickup node for BOPIS, else the ship-to (geocoded offline from its ZIP).
    pickup_node: Node | None = None
    if order.delivery == "pickup":
        assert order.pickup_node is not None  # enforced by the model
        pickup_node = nodes.get(order.pickup_node)
        if pickup_node is None:
            raise RoutingError(f"order.pickup_node {order.pickup_node!r} is not a known node")
        if not pickup_node.pickup:
            raise RoutingError(f"order.pickup_node {order.pickup_node!r} does not offer pickup")
        lat, lon = pickup_node.lat, pickup_node.lon
        state, zip_code = pickup_node.state, pickup_node.zip
    else:
        ship_to = order.ship_to
        assert ship_to is not None  # enforced by the model
        state, zip_code = ship_to.state, ship_to.zip
        if ship_to.lat is not None and ship_to.lon is not None:
            lat, lon = ship_to.lat, ship_to.lon
        else:
            try:
                point = geocode_zip(ship_to.zip or "")
            except UnknownZip as exc:
                raise RoutingError(f"order.ship_to: {exc}") from exc
            lat, lon, state = point.lat, point.lon, state or point.state

    facts = OrderFacts(
        customer_tier=order.customer_tier,
        dest_state=state,
        dest_zip=zip_code,
        weekday=order.weekday,
        order_value=value,
        delivery=order.delivery,
        order_tags=frozenset(order.tags),
        sku_tags={s: frozenset(catalog[s].tags) for s in skus},
    )
    eff = evaluate_rules(policy.rules, facts, [(n.id, n.type) for n in scenario.nodes])
    max_ship = policy.max_shipments
    notes: list[str] = []
    if eff.max_shipments is not None and eff.max_shipments[0] < max_ship:
        max_ship = eff.max_shipments[0]
        notes.append(f"at most {max_ship} shipments (rule {eff.max_shipments[1]})")
    if eff.require_fastest:
        notes.append(
            f"fastest service per shipment, cost as tie-break (rule {eff.require_fastest})"
        )

    positions: dict[tuple[str, str], tuple[int, int, int]] = {}
    for pos in scenario.inventory:
        if pos.sku not in index:
            continue
        if pos.node not in nodes:
            raise RoutingError(f"inventory position for {pos.sku} names unknown node {pos.node!r}")
        key = (pos.node, pos.sku)
        if key in positions:
            raise RoutingError(f"duplicate inventory position for node {pos.node}, SKU {pos.sku}")
        positions[key] = (pos.on_hand, pos.reserved, pos.safety_stock)

    excluded: list[ExcludedNode] = []
    cands: list[Cand] = []
    pickup: Cand | None = None
    for node in scenario.nodes:
        in_place = pickup_node is not None and node.id == pickup_node.id
        reason: str | None = None
        if node.id in order.excluded_nodes:
            reason = f"excluded by order: {order.excluded_nodes[node.id]}"
        elif node.id in eff.node_excluded:
            reason = f"rule {eff.node_excluded[node.id]}"
        elif node.capacity_remaining is not None and node.capacity_remaining <= 0:
            reason = (
                f"capacity: {node.capacity_note}"
                if node.capacity_note
                else f"capacity: no shipments left (capacity_remaining {node.capacity_remaining})"
            )
        services: tuple[ServiceOption, ...] = ()
        miles = 0.0 if in_place else haversine_miles(node.lat, node.lon, lat, lon)
        zone = "0" if in_place else zone_for(scenario.rates, miles)
        if reason is None and not in_place:
            services, reason = _services_for(
                node,
                scenario.rates,
                zone,
                order.service_level,
                order.promise_days,
                eff.require_fastest is not None,
            )
        if reason is not None:
            excluded.append(ExcludedNode(node=node.id, reason=reason))
            continue

        stock = [0] * len(skus)
        sku_reasons: list[ExcludedNode] = []
        for i, sku_id in enumerate(skus):
            on_hand, reserved, safety = positions.get((node.id, sku_id), (0, 0, 0))
            free = on_hand - reserved
            if free <= 0:
                continue
            # Every reason is reported, so a SKU blocked twice names both rules.
            why: list[str] = []
            rule = eff.sku_excluded.get((node.id, sku_id))
            if rule is not None:
                why.append(f"rule {rule}")
            atp = free - safety
            floor = eff.floors.get((node.id, sku_id))
            if atp <= 0:
                why.append(f"floor stock: {free} free on hand <= safety stock {safety}")
            elif floor is not None:
                if atp <= floor[0]:
                    why.append(f"floor stock: ATP {atp} <= floor {floor[0]} (rule {floor[1]})")
                atp -= floor[0]
            if why:
                sku_reasons.append(ExcludedNode(node=node.id, sku=sku_id, reason="; ".join(why)))
                continue
            # A node counting capacity in units supplies no more than it may still take today
            # (per SKU; a shipment mixing SKUs past the cap is refused when it is claimed).
            stock[i] = atp if node.capacity_units is None else min(atp, node.capacity_units)
        excluded.extend(sku_reasons)
        if not any(stock):
            if not sku_reasons:
                excluded.append(ExcludedNode(node=node.id, reason="no ATP for the order's SKUs"))
            continue
        cand = Cand(
            node=node.id,
            type=node.type,
            priority=node.priority,
            distance=miles,
            zone=zone,
            services=services,
            per_shipment=cents(node.handling.per_shipment),
            per_unit=cents(node.handling.per_unit),
            adjustments=tuple((r, cents(a)) for r, a in eff.adjustments.get(node.id, []))
            + _balance(policy.balance_per_utilisation, node.utilisation),
            stock=stock,
            in_place=in_place,
        )
        if in_place:
            pickup = cand
        else:
            cands.append(cand)

    forced: list[int] = []
    if pickup_node is not None:
        forced = (
            [min(d, s) for d, s in zip(demand, pickup.stock, strict=True)]
            if pickup
            else [0] * len(skus)
        )
        if pickup is None:
            notes.append(
                f"pickup node {pickup_node.id} supplies nothing in place; all units transfer"
            )
        if pickup is not None and sum(forced) > 0 and max_ship < 1:
            raise RoutingError("max_shipments must be at least 1")

    return Problem(
        order_id=order.id,
        skus=skus,
        demand=demand,
        weight=[_milli_lb(catalog[s].weight_lb) for s in skus],
        lines=lines,
        cands=cands,
        max_shipments=max_ship,
        split=cents(policy.split_penalty),
        backorder=cents(policy.backorder_penalty_per_unit),
        pickup=pickup,
        forced=forced,
        excluded=excluded,
        rules_applied=eff.applied,
        notes=notes,
        dest=(lat, lon),
    )
