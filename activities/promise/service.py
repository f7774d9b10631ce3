"""Delivery promises: the plan the router would choose for a cart right now, dated and priced.

A promise is planned by the same code an order is reserved with
(`InventoryActivities.plan_for`: the same scenario, positions, node capacity and policy), so an
order placed right after a promise, with no stock change in between, takes the promised plan.
Nothing is reserved: a promise is a read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import inbound, ledger
from activities.inventory.activities import PROMISE_ORDER_ID, InventoryActivities, NodeState
from activities.promise.cache import PlanCache
from activities.promise.snapshot import NodeSettingsCache
from dom_workflows.geo import UnknownZip, geocode_zip, haversine_miles
from dom_workflows.inventory.models import (
    OrderToRoute,
    ReserveAndRouteInput,
    SourcingLine,
    ValidatedOrder,
)
from dom_workflows.money import Money
from dom_workflows.network import Network
from dom_workflows.order.models import OrderPolicy
from dom_workflows.promise import dates
from dom_workflows.promise.models import (
    ExcludedNodeNote,
    LaterSupply,
    PickupStore,
    PromisedLine,
    PromisedShipment,
    PromiseExplanation,
    PromiseOption,
    PromiseRequest,
    PromiseResponse,
    ShortLine,
)
from dom_workflows.routing import Plan, RoutingError
from dom_workflows.routing.problem import zone_for

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PICKUP = "pickup"


class PromiseInvalid(ValueError):
    """The request names something the network does not have; the message says what."""


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    state: str | None
    zip: str | None
    label: str


@dataclass(frozen=True)
class OpenInbound:
    inbound_id: str
    node: str
    sku: str
    expected_at: datetime
    unallocated: int


class PromiseService:
    def __init__(
        self,
        engine: AsyncEngine,
        network: Network,
        policy: Any,
        cache: PlanCache | None = None,
        reader: AsyncEngine | None = None,
    ) -> None:
        self.engine = engine
        # Promises only read: on SQLite a read-only engine (deferred transactions) lets them run
        # beside the writers instead of queueing for the write lock.
        self.reader = reader or engine
        self.network = network
        self.inventory = InventoryActivities(engine, network, policy)
        self.cache = cache or PlanCache()
        self._catalog = network.sku_map()
        self._settings = NodeSettingsCache(network)

    # ------------------------------------------------------------------ request checks
    def _check(self, req: PromiseRequest) -> None:
        problems = [
            f"line {n}: unknown SKU {ln.sku!r}"
            for n, ln in enumerate(req.lines, 1)
            if ln.sku not in self._catalog
        ]
        services = self.network.rates.get("services", {})
        if req.destination.pickup_node is None:
            problems += [
                f"service level {s!r} is not offered (choose from {', '.join(sorted(services))})"
                for s in req.service_levels
                if s not in services
            ]
        if problems:
            raise PromiseInvalid("; ".join(problems))

    def place(self, req: PromiseRequest) -> Place:
        d = req.destination
        if d.pickup_node is not None:
            node = next((n for n in self.network.nodes if n.id == d.pickup_node), None)
            if node is None:
                raise PromiseInvalid(f"pickup_node {d.pickup_node!r} is not a node of the network")
            if not node.pickup:
                raise PromiseInvalid(f"node {node.id} does not offer store pickup")
            return Place(node.lat, node.lon, node.state, node.zip, f"pickup at {node.id}")
        if d.lat is not None and d.lon is not None:
            return Place(d.lat, d.lon, d.state, d.zip, f"{d.lat:.4f},{d.lon:.4f}")
        assert d.zip is not None  # the model demands one of the three
        try:
            point = geocode_zip(d.zip)
        except UnknownZip as e:
            raise PromiseInvalid(f"destination cannot be geocoded: {e}") from e
        return Place(point.lat, point.lon, d.state or point.state, d.zip, d.zip)

    # ------------------------------------------------------------------ planning
    def route_input(
        self, req: PromiseRequest, place: Place, service: str, now: datetime
    ) -> ReserveAndRouteInput:
        """The input an order with this cart would be routed with (see order/routing.py)."""
        pickup = req.destination.pickup_node
        return ReserveAndRouteInput(
            order=OrderToRoute(
                order_id=PROMISE_ORDER_ID,
                service_level="ground" if pickup else service,
                customer_tier=req.customer_tier,
                delivery="pickup" if pickup else "ship",
                pickup_node=pickup,
                tags=list(req.tags),
            ),
            destination=ValidatedOrder(
                ship_to_lat=place.lat,
                ship_to_lon=place.lon,
                ship_to_state=place.state,
                ship_to_zip=place.zip,
                order_value=Money.zero(self.network.currency),
                policy=OrderPolicy(),
            ),
            attempt=1,
            lines=[
                SourcingLine(
                    line_id=ln.line_id or str(n),
                    sku=ln.sku,
                    qty=ln.qty,
                    unit_price=self._catalog[ln.sku].price,
                )
                for n, ln in enumerate(req.lines, 1)
            ],
            weekday=WEEKDAYS[now.astimezone(UTC).weekday()],
        )

    @staticmethod
    def _key(inp: ReserveAndRouteInput) -> str:
        raw = inp.model_dump(mode="json", exclude={"destination": {"order_value", "policy"}})
        return hashlib.blake2b(json.dumps(raw, sort_keys=True).encode(), digest_size=16).hexdigest()

    async def _plan(
        self,
        conn: AsyncConnection,
        inp: ReserveAndRouteInput,
        now: datetime,
        use_cache: bool,
        versions: tuple[tuple[str, int], ...],
        nodes: NodeState,
        fingerprint: Hashable,
    ) -> tuple[Plan, bool]:
        key = self._key(inp)
        if use_cache and (plan := self.cache.get(key, versions, fingerprint)) is not None:
            return plan, True
        try:
            plan = await self.inventory.plan_for(conn, inp, now, alternatives=False, nodes=nodes)
        except RoutingError as e:
            raise PromiseInvalid(str(e)) from e
        self.cache.put(key, versions, fingerprint, plan)
        return plan, False

    async def availability(
        self, sku: str, zip_code: str | None, qty: int, now: datetime
    ) -> tuple[int, PickupStore | None]:
        """The SKU's network ATP, and the nearest pickup store (to the ZIP) with `qty` of it."""
        async with self.reader.connect() as conn:
            positions = await ledger.read_positions(conn, [sku])
            calendars = self.inventory.calendars(await self.inventory.node_state(conn, now))
        total = sum(p.atp for p in positions)
        if zip_code is None:
            return total, None
        try:
            point = geocode_zip(zip_code)
        except UnknownZip as e:
            raise PromiseInvalid(f"zip cannot be geocoded: {e}") from e
        stocked = {p.node for p in positions if p.atp >= qty}
        stores = [n for n in self.network.nodes if n.pickup and n.id in stocked]
        if not stores:
            return total, None
        best = min(stores, key=lambda n: haversine_miles(n.lat, n.lon, point.lat, point.lon))
        ready = dates.ship_dates(calendars[best.id], dates.carrier_calendar(self.network), now, 0)
        return total, PickupStore(
            node=best.id,
            name=best.name,
            distance_miles=round(haversine_miles(best.lat, best.lon, point.lat, point.lon), 1),
            available=next(p.atp for p in positions if p.node == best.id),
            ready_by=ready.ship_by,
        )

    # ------------------------------------------------------------------ the promise
    async def quote(
        self, req: PromiseRequest, now: datetime | None = None, *, use_cache: bool = True
    ) -> PromiseResponse:
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._check(req)
        place = self.place(req)
        services = [PICKUP] if req.destination.pickup_node else list(req.service_levels)
        skus = sorted({ln.sku for ln in req.lines})
        options: list[PromiseOption] = []
        all_hit = True
        async with self.reader.connect() as conn:
            snapshot = await self._settings.read(conn, skus, now)
            versions, nodes = snapshot.versions, snapshot.nodes
            fingerprint = self.inventory.node_fingerprint(nodes)
            calendars = self.inventory.calendars(nodes)
            supply: list[OpenInbound] | None = None
            for service in services:
                inp = self.route_input(req, place, service, now)
                plan, hit = await self._plan(
                    conn, inp, now, use_cache, versions, nodes, fingerprint
                )
                all_hit = all_hit and hit
                if plan.backordered and supply is None:
                    supply = await open_inbound(conn, skus)
                options.append(
                    self._option(service, inp, plan, place, now, calendars, supply or [])
                )
        return PromiseResponse(
            promised_at=now,
            destination=place.label,
            options=options,
            cache="hit" if all_hit else "miss",
        )

    def _money(self, amount: Decimal) -> Money:
        return Money(
            amount=Decimal(amount).quantize(Decimal("0.01")), currency=self.network.currency
        )

    def _option(
        self,
        service: str,
        inp: ReserveAndRouteInput,
        plan: Plan,
        place: Place,
        now: datetime,
        calendars: dict[str, dates.NodeCalendar],
        inbound: list[OpenInbound],
    ) -> PromiseOption:
        carrier = dates.carrier_calendar(self.network)
        spread = self.network.delivery_spread_days
        shipments = []
        for s in plan.shipments:
            when = dates.ship_dates(
                calendars[s.node], carrier, now, s.transit_days, spread.get(s.service, 0)
            )
            shipments.append(
                PromisedShipment(
                    node=s.node,
                    node_type=s.node_type,
                    service=s.service,
                    lines=[
                        PromisedLine(line_id=ln.line_id or ln.sku, sku=ln.sku, qty=ln.qty)
                        for ln in s.lines
                    ],
                    transit_days=s.transit_days,
                    ship_by=when.ship_by,
                    delivery_earliest=when.earliest,
                    delivery_latest=when.latest,
                    shipping_cost=self._money(s.shipping_cost),
                    handling_cost=self._money(s.handling_cost),
                )
            )
        later, short = self._later(plan, inp, place, now, calendars, carrier, inbound)
        windows = [(x.ship_by, x.delivery_earliest, x.delivery_latest) for x in shipments]
        windows += [(x.ship_by, x.delivery_earliest, x.delivery_latest) for x in later]
        shipping = sum((s.shipping_cost for s in plan.shipments), Decimal(0))
        handling = sum((s.handling_cost for s in plan.shipments), Decimal(0))
        if not short and not later:
            fulfillable = "full"
        elif shipments:
            fulfillable = "partial"
        else:
            fulfillable = "later" if later else "none"
        summary = plan.explanation.summary
        if later:
            summary += f"; {sum(x.qty for x in later)} unit(s) from stock on its way"
        if short:
            summary += f"; {sum(x.qty for x in short)} unit(s) cannot be promised"
        return PromiseOption(
            service_level=service,
            fulfillable=fulfillable,
            shipments=shipments,
            later=later,
            unavailable=short,
            # A multi-shipment cart is complete when its last parcel arrives.
            ship_by=max((w[0] for w in windows), default=None),
            delivery_earliest=max((w[1] for w in windows), default=None),
            delivery_latest=max((w[2] for w in windows), default=None),
            shipping_cost=self._money(shipping),
            total_cost=self._money(shipping + handling),
            explanation=PromiseExplanation(
                summary=summary,
                excluded=[
                    ExcludedNodeNote(node=x.node, reason=x.reason, sku=x.sku)
                    for x in plan.explanation.excluded
                ],
                notes=list(plan.explanation.notes),
            ),
        )

    def _later(
        self,
        plan: Plan,
        inp: ReserveAndRouteInput,
        place: Place,
        now: datetime,
        calendars: dict[str, dates.NodeCalendar],
        carrier: dates.CarrierCalendar,
        inbound: list[OpenInbound],
    ) -> tuple[list[LaterSupply], list[ShortLine]]:
        """Date the units no node has now against stock on its way, earliest arrival first."""
        left = {(i.inbound_id): i.unallocated for i in inbound}
        later: list[LaterSupply] = []
        short: list[ShortLine] = []
        service = inp.order.service_level
        rates = self.inventory.rates()
        for b in plan.backordered:
            need = b.qty
            line_id = b.line_id or b.sku
            for sup in (i for i in inbound if i.sku == b.sku):
                take = min(need, left[sup.inbound_id])
                if take <= 0:
                    continue
                node = self.network.node(sup.node)
                if inp.order.delivery == PICKUP:
                    transit = 0 if node.id == inp.order.pickup_node else 1
                else:
                    miles = haversine_miles(node.lat, node.lon, place.lat, place.lon)
                    rate = rates.services[service]
                    transit = rate.transit_days.get(
                        zone_for(rates, miles), max(rate.transit_days.values())
                    )
                when = dates.ship_dates(
                    calendars[node.id],
                    carrier,
                    max(now, sup.expected_at),
                    transit,
                    self.network.delivery_spread_days.get(service, 0),
                )
                left[sup.inbound_id] -= take
                need -= take
                later.append(
                    LaterSupply(
                        line_id=line_id,
                        sku=b.sku,
                        qty=take,
                        node=node.id,
                        inbound_id=sup.inbound_id,
                        expected_at=sup.expected_at,
                        ship_by=when.ship_by,
                        delivery_earliest=when.earliest,
                        delivery_latest=when.latest,
                    )
                )
                if need == 0:
                    break
            if need > 0:
                short.append(ShortLine(line_id=line_id, sku=b.sku, qty=need))
        return later, short


async def open_inbound(conn: AsyncConnection, skus: list[str]) -> list[OpenInbound]:
    """Open inbound supply of these SKUs not yet pre-sold, earliest arrival first."""
    return [
        OpenInbound(i.inbound, i.node, i.sku, i.expected_at, i.unallocated)
        for i in await inbound.inbound_by_date(conn, skus)
        if i.unallocated > 0
    ]
