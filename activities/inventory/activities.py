"""Inventory activities: reserve-and-route, release, consume, receive. Dependencies live on the
object (engine, network, policy) so the worker wires them once and tests can use their own."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.insight import records
from activities.inventory import capacity, holds, ledger, node_settings, preorders, schema
from activities.inventory.db import utcnow
from activities.inventory.outbound import record_unplanned_outbound
from activities.network.live import LiveNetworks, LiveVersion
from activities.shadow import record as shadow
from dom_workflows.common import errors
from dom_workflows.common.models import Address, ShipmentLine
from dom_workflows.inventory.models import (
    CloseOrderInput,
    CloseOrderResult,
    ConsumeInput,
    ConsumeResult,
    InventoryReceipt,
    LedgerShipment,
    PlannedFulfillment,
    ReleaseInput,
    ReleaseResult,
    ReserveAndRouteInput,
    ReserveAndRouteResult,
    UnplannedOutbound,
)
from dom_workflows.network import Network
from dom_workflows.network_versions.document import Resolution
from dom_workflows.order.models import NodeSlaTimes
from dom_workflows.promise.dates import NodeCalendar
from dom_workflows.routing import Plan, Scenario, plan_route
from dom_workflows.routing.models import InventoryPosition, Rates, Sku
from dom_workflows.routing.models import Node as RoutingNode
from dom_workflows.routing.models import Order as RoutingOrder
from dom_workflows.routing.policy import Policy

# ATP can move between planning and reserving (another order won the race); re-plan this many
# times against fresh positions before letting Temporal's retry policy back off.
MAX_REPLANS = 5


# The order id a promise plans under: it owns no hold, reservation or pre-order.
PROMISE_ORDER_ID = "promise"


@dataclass(frozen=True)
class NodeState:
    settings: dict[str, node_settings.NodeSettings]
    usage: dict[str, capacity.CapacityState]


def shipment_id_for(order_id: str, attempt: int, node: str) -> str:
    return f"{order_id}:{attempt}:{node}"


class InventoryActivities:
    def __init__(
        self,
        engine: AsyncEngine,
        network: Network,
        policy: Any,
        clock: Callable[[], datetime] = utcnow,
        live: LiveNetworks | None = None,
    ) -> None:
        self.engine = engine
        self.network = network
        self.policy = policy
        # The versioned network (activities/network): when set, routing follows the active
        # version, re-read when its number changes; None keeps `network` and `policy`.
        self.live_networks = live
        self._live_version: int | None = None
        # Injected so a test can move a node into its next local day (capacity) without waiting.
        self.clock = clock
        self._calendars: dict[tuple[str, str], NodeCalendar] = {}

    def _scenario(
        self,
        inp: ReserveAndRouteInput,
        positions: list[ledger.Position],
        node_fields: dict[str, dict[str, Any]] | None = None,
        scoped: Resolution | None = None,
    ) -> Scenario:
        order = inp.order
        live = node_fields or {}
        nodes, skus, rates = self._static
        policy = (
            self.policy if isinstance(self.policy, Policy) else Policy.model_validate(self.policy)
        )
        excluded = inp.excluded_nodes
        if scoped is not None:  # what the active version's scopes and node states allow
            policy = scoped.policy
            excluded = {**scoped.excluded, **inp.excluded_nodes}
        return Scenario.model_construct(
            nodes=[n.model_copy(update=live[n.id]) if n.id in live else n for n in nodes],
            skus=skus,
            # Read from the ledger's own columns: nothing to validate.
            inventory=[
                InventoryPosition.model_construct(
                    node=p.node,
                    sku=p.sku,
                    on_hand=p.on_hand,
                    # Units in other carts are not free for this order either.
                    reserved=p.reserved + p.held,
                    safety_stock=p.safety_stock,
                )
                for p in positions
            ],
            rates=rates,
            policy=policy,
            order=RoutingOrder.model_validate(
                {
                    "id": order.order_id,
                    "lines": [
                        {
                            "line_id": ln.line_id,
                            "sku": ln.sku,
                            "qty": ln.qty,
                            "unit_price": str(ln.unit_price) if ln.unit_price is not None else None,
                        }
                        for ln in inp.lines
                    ],
                    "ship_to": {
                        "lat": inp.destination.ship_to_lat,
                        "lon": inp.destination.ship_to_lon,
                        "state": inp.destination.ship_to_state,
                    },
                    "service_level": order.service_level,
                    "promise_days": order.promise_days,
                    "customer_tier": order.customer_tier,
                    "delivery": order.delivery,
                    "pickup_node": order.pickup_node,
                    "weekday": inp.weekday,
                    "tags": order.tags,
                    "excluded_nodes": excluded,
                }
            ),
        )

    @functools.cached_property
    def _static(self) -> tuple[list[RoutingNode], list[Sku], Rates]:
        """The network's part of every scenario, validated once (it is most of the work of
        building one); live node fields are laid over copies per call."""
        return (
            [RoutingNode.model_validate(n.model_dump(mode="json")) for n in self.network.nodes],
            [Sku.model_validate(s.model_dump(mode="json")) for s in self.network.skus],
            Rates.model_validate(self.network.rates),
        )

    async def live(self, conn: AsyncConnection) -> LiveVersion | None:
        """The active network version (one query; cached by number), or None when routing is
        not versioned. A new version replaces `network` and `policy` for what follows."""
        if self.live_networks is None:
            return None
        current = await self.live_networks.current(conn)
        if current is not None and current.version != self._live_version:
            self.network = current.network
            self.policy = current.document.policy
            self.__dict__.pop("_static", None)  # the cached routing nodes of the old version
            self._live_version = current.version
        return current

    def _result(
        self, inp: ReserveAndRouteInput, plan: Plan, network: Network | None = None
    ) -> ReserveAndRouteResult:
        order_id = inp.order.order_id
        network = network or self.network
        fulfillments = []
        for s in plan.shipments:
            sla = network.sla_for(s.node)
            node = network.node(s.node)
            fulfillments.append(
                PlannedFulfillment(
                    shipment_id=shipment_id_for(order_id, inp.attempt, s.node),
                    node=s.node,
                    node_type=node.type,
                    service=s.service,
                    lines=[
                        ShipmentLine(line_id=ln.line_id or ln.sku, sku=ln.sku, qty=ln.qty)
                        for ln in s.lines
                    ],
                    sla=NodeSlaTimes.model_validate(sla.model_dump()),
                    transit_days=s.transit_days,
                    shipping_cost=s.shipping_cost,
                    handling_cost=s.handling_cost,
                    ship_from=Address(
                        name=node.name,
                        city=node.city,
                        state=node.state,
                        zip=node.zip,
                        lat=node.lat,
                        lon=node.lon,
                    ),
                    billable_lb=Decimal(s.billable_lb),
                )
            )
        return ReserveAndRouteResult(
            order_id=order_id,
            attempt=inp.attempt,
            strategy=plan.strategy,
            total_cost=Decimal(plan.total_cost),
            summary=plan.explanation.summary,
            fulfillments=fulfillments,
            backordered=[
                ShipmentLine(line_id=b.line_id or b.sku, sku=b.sku, qty=b.qty)
                for b in plan.backordered
            ],
            plan=plan.model_dump(mode="json"),
        )

    async def _stored(self, order_id: str, attempt: int) -> ReserveAndRouteResult | None:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                sa.select(schema.routing_plans.c.result).where(
                    schema.routing_plans.c.order_id == order_id,
                    schema.routing_plans.c.route_attempt == attempt,
                )
            )
            stored = row.scalar_one_or_none()
        return ReserveAndRouteResult.model_validate(stored) if stored is not None else None

    async def node_state(self, conn: AsyncConnection, now: datetime) -> NodeState:
        """Every node's live settings and its usage on its local day of `now` (3 queries)."""
        settings = await node_settings.load_node_settings(conn, self.network)
        return NodeState(settings, await capacity.usage(conn, settings, now))

    def capacity_fields(
        self, nodes: NodeState, full: dict[str, str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Per node, what the router takes from today's capacity (node's local day of `now`): a
        full node is excluded ("capacity: 120/120 orders today"), units left cap a units-mode
        node. `full`: nodes a claim just found full (node -> NodeFull.note)."""
        full = full or {}
        return {
            node: capacity.routing_fields(nodes.usage.get(node), full.get(node))
            for node in nodes.usage
        }

    async def plan_for(
        self,
        conn: AsyncConnection,
        inp: ReserveAndRouteInput,
        now: datetime,
        *,
        alternatives: bool,
        full: dict[str, str] | None = None,
        nodes: NodeState | None = None,
        seen: list[Scenario] | None = None,
        live: LiveVersion | None = None,
    ) -> Plan:
        """The plan for `inp` on the ledger as `conn` sees it. Orders (reserve_and_route) and
        promises (activities/promise) both plan here, so a promise is what an order would get.
        `nodes`: the node state already read on `conn` (a promise reads it once per request).
        Raises RoutingError (a ValueError) for an order the router cannot plan."""
        positions = await ledger.read_positions(conn, sorted({ln.sku for ln in inp.lines}))
        if inp.order.cart_id:
            # The order's own cart hold is about to become its reservation: plan as if those
            # units were free (reserve_and_route converts the hold in the reserving transaction).
            mine = await holds.active_lines(conn, inp.order.cart_id, inp.order.channel)
            positions = holds.with_units_freed(positions, mine)
        if inp.order.order_id != PROMISE_ORDER_ID:
            # Units an inbound arrival reserved for this order's backordered lines are its own:
            # plan as if they were free (reserve_and_route adopts them when it reserves).
            arrived = await preorders.prereserved_units(
                conn, inp.order.order_id, {ln.line_id for ln in inp.lines}
            )
            positions = preorders.own_positions(positions, arrived)
        live = live or await self.live(conn)
        nodes = nodes or await self.node_state(conn, now)
        scenario = self._scenario(
            inp,
            positions,
            self.capacity_fields(nodes, full),
            live.resolve(inp) if live is not None else None,
        )
        if seen is not None:  # the caller's shadow plans use the very same inputs
            seen.append(scenario)
        return plan_route(scenario, "optimal", alternatives=alternatives)

    def node_fingerprint(self, nodes: NodeState) -> Hashable:
        """What, besides stock, a plan depends on: a cached promise is valid while this and its
        SKUs' versions are unchanged. Live settings (calendars, limits) and, per node, its local
        day, whether it is full and (units mode) the units it may still take -- and, when the
        policy balances load, how much it has used (every order then moves the price)."""
        balancing = bool(getattr(self.policy, "balance_per_utilisation", 0))
        return tuple(
            (
                node,
                s.model_dump_json(exclude={"updated_at", "updated_by"}),
                nodes.usage[node].day,
                nodes.usage[node].full,
                nodes.usage[node].remaining if s.capacity_unit == "units" else None,
                nodes.usage[node].used if balancing else None,
            )
            for node, s in sorted(nodes.settings.items())
        )

    def calendars(self, nodes: NodeState) -> dict[str, NodeCalendar]:
        """Each node's live calendar (node_settings and holidays), as promises date with;
        built once per distinct setting (a NodeCalendar validates its zone and cut-off)."""
        out: dict[str, NodeCalendar] = {}
        for node, s in nodes.settings.items():
            fields = s.calendar_fields()
            key = (node, repr(sorted(fields.items())))
            if (cal := self._calendars.get(key)) is None:
                if len(self._calendars) > 1024:
                    self._calendars.clear()
                cal = NodeCalendar.model_validate({**fields, "node": node})
                self._calendars[key] = cal
            out[node] = cal
        return out

    def rates(self) -> Rates:
        return self._static[2]

    @activity.defn
    async def reserve_and_route(self, inp: ReserveAndRouteInput) -> ReserveAndRouteResult:
        """Plan with the optimal router on live ATP and reserve the plan in one transaction."""
        order_id = inp.order.order_id
        if (done := await self._stored(order_id, inp.attempt)) is not None:
            return done  # a retry: the reservation was already made
        last_conflict = ""
        full: dict[str, str] = {}  # nodes a claim found full during this call -> why
        for _ in range(MAX_REPLANS):
            now = self.clock()
            try:
                seen: list[Scenario] = []
                async with self.engine.connect() as conn:
                    # The version this attempt plans and records with, whatever comes after.
                    live = await self.live(conn)
                    plan = await self.plan_for(
                        conn, inp, now, alternatives=True, full=full, seen=seen, live=live
                    )
                    # The active shadow policies plan the same inputs (written with the decision).
                    shadows = await shadow.plan_attempt(conn, seen[-1], plan, self._static[0])
            except ValueError as e:
                raise ApplicationError(str(e), type="RoutingError", non_retryable=True) from e
            result = self._result(inp, plan, live.network if live is not None else None)
            scoped = live.resolve(inp) if live is not None else None
            allocations = [
                ledger.Allocation(f.shipment_id, f.node, ln.sku, ln.line_id, ln.qty)
                for f in result.fulfillments
                for ln in f.lines
            ]
            try:
                async with self.engine.begin() as conn:
                    if await ledger.is_closed(conn, order_id):
                        # A routing attempt still running when its order was cancelled and
                        # closed must not leave a reservation behind.
                        raise ApplicationError(
                            f"order {order_id} is closed; nothing is reserved for it",
                            type=errors.ORDER_CLOSED,
                            non_retryable=True,
                        )
                    await conn.execute(
                        schema.routing_plans.insert().values(
                            order_id=order_id,
                            route_attempt=inp.attempt,
                            result=result.model_dump(mode="json"),
                            created_at=ledger.utcnow(),
                        )
                    )
                    # The decision and its shipments' records: with the plan, or not at all.
                    await records.record_decision(
                        conn,
                        inp,
                        result,
                        plan,
                        inp.destination.order_value.currency,
                        ledger.utcnow(),
                        network_version=live.version if live is not None else None,
                        policy_version=live.policy_label(scoped) if live and scoped else None,
                        scopes=list(scoped.scopes) if scoped is not None else None,
                    )
                    # Its input (for what-if) and the active shadow policies' plans of it.
                    await shadow.record_attempt(
                        conn,
                        order_id=order_id,
                        attempt=inp.attempt,
                        planned=shadows,
                        currency=inp.destination.order_value.currency,
                        now=ledger.utcnow(),
                    )
                    converted = None
                    if inp.order.cart_id:
                        # Exactly once (status guard); the units leave `held` and enter
                        # `reserved` in this one transaction, so they are never free between.
                        converted = await holds.convert_in(
                            conn, inp.order.cart_id, inp.order.channel, order_id, ledger.utcnow()
                        )
                    # The daily cap: a conditional increment per shipment's node, in this
                    # transaction, so a node another order just filled raises NodeFull.
                    settings = await node_settings.load_node_settings(
                        conn, live.network if live is not None else self.network
                    )
                    await capacity.claim(
                        conn,
                        [
                            (f.shipment_id, f.node, sum(ln.qty for ln in f.lines))
                            for f in result.fulfillments
                        ],
                        settings,
                        now,
                    )
                    # The order's arrived pre-orders become the plan's reservations first.
                    rest = await preorders.adopt(conn, order_id, inp.attempt, allocations)
                    await ledger.reserve(conn, order_id, inp.attempt, rest)
                    if converted:
                        await holds.publish_conversion(conn, converted)
                return result
            except ledger.InsufficientAtp as e:
                last_conflict = str(e)
                activity.logger.info("ATP moved while reserving %s: %s; re-planning", order_id, e)
            except capacity.NodeFull as e:
                last_conflict = str(e)
                full[e.node] = e.note
                activity.logger.info(
                    "capacity ran out while reserving %s: %s; re-planning", order_id, e
                )
            except IntegrityError:
                # A concurrent retry of this same activity committed first: return its plan.
                if (done := await self._stored(order_id, inp.attempt)) is not None:
                    return done
                raise
        raise ApplicationError(
            f"ATP kept moving while reserving order {order_id} ({MAX_REPLANS} re-plans); "
            f"last conflict: {last_conflict}",
            type="ReservationConflict",
        )

    @activity.defn
    async def release_reservations(self, inp: ReleaseInput) -> ReleaseResult:
        released = await ledger.release(self.engine, inp)
        if inp.outcome is not None:  # a rejection or a breach: the shipment's record says so
            async with self.engine.begin() as conn:
                await records.apply_outcome(conn, inp.outcome, ledger.utcnow())
        return released

    @activity.defn
    async def consume_reservations(self, inp: ConsumeInput) -> ConsumeResult:
        units = await ledger.consume(self.engine, inp.order_id, inp.shipment_id)
        if inp.outcome is not None:  # shipped: when, and against its ship-by
            async with self.engine.begin() as conn:
                await records.apply_outcome(conn, inp.outcome, ledger.utcnow())
        return ConsumeResult(consumed_units=units)

    @activity.defn
    async def receive_inventory(self, receipt: InventoryReceipt) -> bool:
        return await ledger.receive(self.engine, receipt)

    @activity.defn
    async def close_order(self, inp: CloseOrderInput) -> CloseOrderResult:
        """The last step of every order workflow: release whatever the order still holds in
        `reserved` and record the closure (once; a retry returns the first result)."""
        result = await ledger.close_order(self.engine, inp)
        # Its pre-orders of units still on their way go back to the inbound for other orders.
        async with self.engine.begin() as conn:
            await preorders.release_order(conn, inp.order_id)
            if inp.closing is not None:
                await records.close_order(conn, inp.order_id, inp.closing, ledger.utcnow())
        return result.model_copy(update={"shipments": await _ledger_shipments(self.engine, inp)})

    @activity.defn
    async def record_unplanned_outbound(self, inp: UnplannedOutbound) -> int:
        """A node shipped units of a request the DOM had cancelled: they leave on_hand (once per
        reference) and an escalation is filed. Returns the units taken out of on_hand."""
        return await record_unplanned_outbound(
            self.engine,
            order_id=inp.order_id,
            shipment_id=inp.shipment_id,
            node=inp.node,
            lines=[(ln.sku, ln.qty) for ln in inp.lines],
            reference=inp.reference,
            note=inp.note,
        )


async def _ledger_shipments(engine: AsyncEngine, inp: CloseOrderInput) -> list[LedgerShipment]:
    """The order's reservations (every routing attempt) per shipment id and status."""
    totals: dict[tuple[str, str], int] = {}
    for r in await ledger.reservations_of(engine, inp.order_id):
        key = (r["shipment_id"], r["status"])
        totals[key] = totals.get(key, 0) + int(r["qty"])
    return [
        LedgerShipment(shipment_id=sid, status=status, units=n)
        for (sid, status), n in sorted(totals.items())
    ]
