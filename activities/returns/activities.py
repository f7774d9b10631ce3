"""Return (RMA) activities.

`ReturnActivities` touch the DOM database: open the RMA (every check that needs the order, the
policy or the ledger, then the over-return-safe insert), record the graded receipt, restock
resellable units through the ledger, expire and close. `ReturnClientActivities` need the
Temporal client: read the order workflow and wake backorders, both by workflow and message name
(activities never import workers.client; the exchange's replacement order is the
ReturnWorkflow's child). Each is idempotent: keys come from the RMA id, so a retry changes
nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.inventory import ledger
from activities.returns import store
from dom_workflows.backorder.models import StockArrival, waitlist_workflow_id
from dom_workflows.common.errors import INVALID_RETURN, RETURN_REFUSED, RMA_TAKEN, UNKNOWN_ORDER
from dom_workflows.common.models import Address
from dom_workflows.inventory.models import InventoryReceipt
from dom_workflows.network import Network
from dom_workflows.order.models import (
    OrderRequest,
    OrderState,
    PartnerSetup,
    ShipmentStatus,
    order_workflow_id,
)
from dom_workflows.returns.models import (
    CloseReturn,
    ExpireResult,
    OpenedLine,
    OpenedReturn,
    OpenReturn,
    OrderSnapshot,
    ReadOrder,
    RecordReceipt,
    Restock,
    RestockResult,
    ReturnPartners,
    WakeBackorders,
)


def _refusal(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


class ReturnActivities:
    def __init__(
        self, engine: AsyncEngine, network: Network, partners: PartnerSetup | None = None
    ) -> None:
        self.engine = engine
        self.network = network
        self.partners = partners or PartnerSetup()

    @activity.defn
    async def open_return(self, req: OpenReturn) -> OpenedReturn:
        """Validate the RMA against what was delivered and the return window, then record it.
        InvalidReturn (bad request), ReturnRefused (not returnable now) and RmaTaken are final."""
        st, order = req.order.state, req.order.request
        policy = self.network.order_policy
        by_id = {ln.line_id: ln for ln in st.lines}
        invalid: list[str] = []
        seen: set[str] = set()
        for r in req.request.lines:
            if r.line_id in seen:
                invalid.append(f"line {r.line_id} is listed twice")
            seen.add(r.line_id)
            if r.line_id not in by_id:
                invalid.append(
                    f"order {st.order_id} has no line {r.line_id!r} "
                    f"(its lines: {', '.join(by_id) or 'none'})"
                )
        if req.request.exchange_lines is not None and not req.request.exchange:
            invalid.append("exchange_lines are only allowed with exchange: true")
        skus = self.network.sku_map()
        invalid += [
            f"exchange SKU {x.sku!r} is not in the catalog"
            for x in req.request.exchange_lines or []
            if x.sku not in skus
        ]
        if invalid:
            raise _refusal(
                INVALID_RETURN, f"return of order {st.order_id} is invalid: " + "; ".join(invalid)
            )

        delivered = sorted(
            (s for s in st.shipments if s.status == ShipmentStatus.DELIVERED),
            key=lambda s: (s.delivered_at or req.as_of, s.shipment_id),
        )
        if not delivered:
            raise _refusal(
                RETURN_REFUSED,
                f"nothing of order {st.order_id} has been delivered yet (order {st.status.value}); "
                "only delivered units can be returned",
            )
        refusals: list[str] = []
        closes: dict[str, datetime] = {}
        for r in req.request.lines:
            ships = [
                s for s in delivered if any(sl.line_id == r.line_id and sl.qty for sl in s.lines)
            ]
            if not ships:
                refusals.append(f"line {r.line_id} ({by_id[r.line_id].sku}) has no delivered units")
                continue
            last = max(s.delivered_at or req.as_of for s in ships)
            window_closes = last + policy.return_window
            closes[r.line_id] = window_closes
            if req.as_of > window_closes:
                refusals.append(
                    f"line {r.line_id}: the {policy.return_window.days}-day return window closed "
                    f"on {window_closes:%Y-%m-%d %H:%M} UTC"
                )
        if refusals:
            raise _refusal(RETURN_REFUSED, f"order {st.order_id}: " + "; ".join(refusals))

        try:
            allocations = await store.open_rma(
                self.engine,
                rma_id=req.rma_id,
                order_id=st.order_id,
                seq=req.seq,
                exchange=req.request.exchange,
                lines=[
                    store.RmaLine(r.line_id, by_id[r.line_id].sku, r.qty, r.reason)
                    for r in req.request.lines
                ],
                delivered=[
                    store.Delivered(sl.line_id, s.shipment_id, sl.qty, s.capture_id)
                    for s in delivered
                    for sl in s.lines
                    if sl.qty > 0
                ],
            )
        except store.OverReturn as e:
            raise _refusal(RETURN_REFUSED, f"order {st.order_id}: {e}") from None
        except store.RmaTaken as e:
            raise _refusal(RMA_TAKEN, str(e)) from None

        node_id = policy.return_node or delivered[0].node
        node = self.network.node(node_id)
        order_lines = {ln.line_id: ln for ln in order.lines}
        lines = [
            OpenedLine(
                line_id=r.line_id,
                sku=by_id[r.line_id].sku,
                qty=r.qty,
                unit_price=by_id[r.line_id].unit_price,
                reason=r.reason,
                window_closes=closes[r.line_id],
                allocations=allocations[r.line_id],
                order_line=order_lines.get(r.line_id),
            )
            for r in req.request.lines
        ]
        return OpenedReturn(
            rma_id=req.rma_id,
            order_id=st.order_id,
            seq=req.seq,
            customer=order.customer,
            ship_to=order.ship_to,
            return_node=node.id,
            return_address=Address(
                name=f"Returns {node.name}",
                city=node.city,
                state=node.state or None,
                zip=node.zip or None,
                lat=node.lat,
                lon=node.lon,
            ),
            # The RMA stays open until the last of its lines' windows closes.
            deadline=max(ln.window_closes for ln in lines),
            currency=st.order_value.currency,
            lines=lines,
            exchange=req.request.exchange,
            exchange_lines=req.request.exchange_lines,
            payment_mode=order.payment_mode,
            partners=ReturnPartners(
                refunds=self.partners.payments, return_labels=self.partners.carrier_labels
            ),
            parcel_lb=max(
                Decimal(1),
                Decimal(
                    str(sum(skus[ln.sku].weight_lb * ln.qty for ln in lines if ln.sku in skus))
                ).to_integral_value(ROUND_CEILING),
            ),
        )

    @activity.defn
    async def record_return_receipt(self, req: RecordReceipt) -> bool:
        return await store.record_receipt(self.engine, req.rma_id, req.lines)

    @activity.defn
    async def restock_returned(self, req: Restock) -> RestockResult:
        """Resellable units go back on hand at the return node (movement kind `restock`),
        once per RMA line."""
        applied = await ledger.receive(
            self.engine,
            InventoryReceipt(node=req.node, sku=req.sku, qty=req.qty, reference=req.reference),
            kind="restock",
        )
        return RestockResult(applied=applied)

    @activity.defn
    async def expire_return(self, req: CloseReturn) -> ExpireResult:
        return ExpireResult(units=await store.expire(self.engine, req.rma_id))

    @activity.defn
    async def close_return(self, req: CloseReturn) -> None:
        await store.close(self.engine, req.rma_id, req.status)


class ReturnClientActivities:
    """Talk to other workflows through the worker's own Temporal client, by workflow id and
    message name only."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn
    async def read_order_for_return(self, req: ReadOrder) -> OrderSnapshot:
        """The order's state (its `state` query answers after it completed too) and its
        original input."""
        handle = self.client.get_workflow_handle(order_workflow_id(req.order_id))
        try:
            state = await handle.query("state", result_type=OrderState)
            first = None
            async for event in handle.fetch_history_events(page_size=1):
                first = event
                break
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise _refusal(UNKNOWN_ORDER, f"order {req.order_id} does not exist") from None
            raise
        if first is None or not first.HasField("workflow_execution_started_event_attributes"):
            raise _refusal(UNKNOWN_ORDER, f"order {req.order_id} has no readable history")
        payloads = first.workflow_execution_started_event_attributes.input.payloads
        [order] = await self.client.data_converter.decode(payloads, [OrderRequest])
        return OrderSnapshot(state=state, request=order)

    @activity.defn
    async def wake_backorders(self, req: WakeBackorders) -> bool:
        """Restocked units wake the backorders waiting for the SKU: the `stock_arrived` signal
        to its waiting list (harmless if repeated). False when no waiting list exists."""
        handle = self.client.get_workflow_handle(waitlist_workflow_id(req.sku))
        try:
            await handle.signal(
                "stock_arrived",
                StockArrival(node=req.node, qty=req.qty, reference=req.reference),
            )
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True
