"""DomClient: how channels and tools talk to orders, without knowing Temporal's details."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import (
    Client,
    Interceptor,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from dom_workflows.backorder.models import StockArrival, waitlist_workflow_id
from dom_workflows.common.text import count
from dom_workflows.config import Settings
from dom_workflows.order import search_attributes as attrs
from dom_workflows.order.markdown import code_table
from dom_workflows.order.models import (
    CancelRequest,
    CancelResult,
    Hold,
    OrderRequest,
    OrderState,
    PaymentSummary,
    PaymentUpdate,
    PlaceHold,
    ReleaseHold,
    ShipmentEvent,
    order_workflow_id,
)
from dom_workflows.order.workflows import OrderWorkflow
from dom_workflows.returns.models import (
    MAX_RMAS_PER_ORDER,
    RMA_TAKEN,
    ReturnInput,
    ReturnReceipt,
    ReturnRequest,
    ReturnState,
    ReturnStatus,
    return_workflow_id,
    rma_id_for,
)
from dom_workflows.returns.workflows import ReturnWorkflow
from workers.data_converter import DATA_CONVERTER

# The order workflow's signal for partner reports (payload: a ShipmentEvent).
SHIPMENT_EVENT_SIGNAL = "shipment_event"


class CancelRefused(Exception):
    """The order cannot be cancelled as asked; the message says why."""


class OrderNotFound(LookupError):
    pass


class HoldRefused(Exception):
    """A hold could not be placed or released; the message says why."""


@dataclass(frozen=True)
class Submitted:
    order_id: str
    workflow_id: str
    run_id: str | None
    created: bool  # False when the order already existed (an idempotent resubmission)


async def connect(
    settings: Settings | None = None,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """A Temporal client with the pydantic data converter, configured from the environment.
    Services pass their tracing and metrics interceptors and the runtime whose metrics they
    export (workers/observability); None is the SDK's default runtime."""
    s = settings or Settings.from_env()
    return await Client.connect(
        s.temporal_address,
        namespace=s.temporal_namespace,
        api_key=s.temporal_api_key,
        tls=s.temporal_tls,
        data_converter=DATA_CONVERTER,
        interceptors=interceptors,
        runtime=runtime,
    )


def static_summary(order: OrderRequest) -> str:
    n_units = sum(ln.qty for ln in order.lines)
    return (
        f"Order {order.order_id} · {order.channel} · "
        f"{count(len(order.lines), 'line')} / {count(n_units, 'unit')} · "
        f"{order.value()} · {order.customer.tier}"
    )[:200]


def static_details(order: OrderRequest) -> str:
    rows = code_table(
        ("line", "sku", "qty", "unit price"),
        [(ln.line_id, ln.sku, ln.qty, str(ln.unit_price)) for ln in order.lines],
    )
    to = order.ship_to
    dest = (
        f"pickup at {order.pickup_node}"
        if order.delivery == "pickup"
        else (f"{to.city} {to.state or ''} {to.zip or ''}".strip() if to else "no address")
    )
    return (
        f"**Customer** {order.customer.id} ({order.customer.tier})  \n"
        f"**Deliver to** {dest} · {order.service_level}"
        + (f" · promise {order.promise_days} days" if order.promise_days else "")
        + "\n\n"
        + rows
    )


class DomClient:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> DomClient:
        s = settings or Settings.from_env()
        return cls(await connect(s), s.task_queue)

    def handle(self, order_id: str) -> WorkflowHandle[OrderWorkflow, object]:
        return self.client.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order_id))

    async def submit(self, order: OrderRequest) -> Submitted:
        """Start the order's workflow. The same order id never starts a second workflow, even
        after the first has finished: the workflow ID is the idempotency key."""
        wid = order_workflow_id(order.order_id)
        value = order.value() if order.lines else None
        try:
            handle = await self.client.start_workflow(
                OrderWorkflow.run,
                order,
                id=wid,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(attrs.ORDER_STATUS, "received"),
                        SearchAttributePair(attrs.SALES_CHANNEL, order.channel),
                        SearchAttributePair(attrs.CUSTOMER_ID, order.customer.id),
                        SearchAttributePair(attrs.CUSTOMER_TIER, order.customer.tier),
                        SearchAttributePair(
                            attrs.ORDER_VALUE, float(value.amount) if value else 0.0
                        ),
                        # OrderValue is a number: its currency is shown next to it.
                        SearchAttributePair(
                            attrs.ORDER_CURRENCY, value.currency if value else "none"
                        ),
                    ]
                ),
                static_summary=static_summary(order) if order.lines else f"Order {order.order_id}",
                static_details=static_details(order),
            )
            return Submitted(order.order_id, wid, handle.first_execution_run_id, created=True)
        except WorkflowAlreadyStartedError as e:
            return Submitted(order.order_id, wid, e.run_id, created=False)

    async def status(self, order_id: str) -> OrderState:
        try:
            return await self.handle(order_id).query(OrderWorkflow.state)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(f"order {order_id} does not exist") from e
            raise

    async def is_running(self, order_id: str) -> bool:
        desc = await self.handle(order_id).describe()
        return desc.status == WorkflowExecutionStatus.RUNNING

    async def cancel(self, order_id: str, request: CancelRequest | None = None) -> CancelResult:
        try:
            return await self.handle(order_id).execute_update(
                OrderWorkflow.cancel, request or CancelRequest()
            )
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError) and cause.type == "CancelRefused":
                raise CancelRefused(cause.message) from e
            raise
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                # Closed workflows refuse updates; say what state the order ended in.
                try:
                    desc = await self.handle(order_id).describe()
                except RPCError:
                    raise OrderNotFound(f"order {order_id} does not exist") from e
                status = desc.status.name.lower() if desc.status else "closed"
                raise CancelRefused(f"order {order_id} is already {status}") from e
            raise

    async def send_shipment_event(self, order_id: str, event: ShipmentEvent) -> None:
        """One signal, by name: the workflow validates the payload itself, so this does not
        depend on the handler's Python signature. Raises RPCError NOT_FOUND if the order's
        workflow is not running."""
        handle = self.client.get_workflow_handle(order_workflow_id(order_id))
        await handle.signal(SHIPMENT_EVENT_SIGNAL, event)

    async def result(self, order_id: str) -> object:
        return await self.handle(order_id).result()

    async def place_hold(self, order_id: str, req: PlaceHold) -> list[Hold]:
        return await self._hold_update(order_id, OrderWorkflow.place_hold, req)

    async def release_hold(self, order_id: str, req: ReleaseHold) -> list[Hold]:
        return await self._hold_update(order_id, OrderWorkflow.release_hold, req)

    async def _hold_update(self, order_id: str, update: object, req: object) -> list[Hold]:
        try:
            return await self.handle(order_id).execute_update(update, req)  # type: ignore[call-overload]
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError) and cause.type == "HoldRefused":
                raise HoldRefused(cause.message) from e
            raise

    async def stock_arrived(self, sku: str, arrival: StockArrival) -> bool:
        """Wake the backorders waiting for a SKU (first come, first served). False if none wait."""
        handle = self.client.get_workflow_handle(waitlist_workflow_id(sku))
        try:
            await handle.signal("stock_arrived", arrival)
            return True
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return False
            raise

    # ----------------------------------------------------------------- returns (RMAs)
    def return_handle(self, rma_id: str) -> WorkflowHandle[ReturnWorkflow, object]:
        return self.client.get_workflow_handle_for(ReturnWorkflow.run, return_workflow_id(rma_id))

    async def create_return(self, order_id: str, request: ReturnRequest) -> ReturnCreated:
        """Open an RMA (`RMA-<order_id>-<n>`, the first free n) and wait until the workflow has
        validated it. Raises ReturnRefused (its `kind` says why) when it cannot be opened."""
        units = sum(ln.qty for ln in request.lines)
        for n in range(1, MAX_RMAS_PER_ORDER + 1):
            rma_id = rma_id_for(order_id, n)
            try:
                handle = await self.client.start_workflow(
                    ReturnWorkflow.run,
                    ReturnInput(rma_id=rma_id, order_id=order_id, seq=n, request=request),
                    id=return_workflow_id(rma_id),
                    task_queue=self.task_queue,
                    # A refused RMA fails, so its number is free for the next request.
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    search_attributes=TypedSearchAttributes(
                        [SearchAttributePair(attrs.ORDER_STATUS, "return_requested")]
                    ),
                    static_summary=(
                        f"Return {rma_id} · order {order_id} · {count(units, 'unit')} · "
                        + ("exchange" if request.exchange else "refund")
                    )[:200],
                )
            except WorkflowAlreadyStartedError:
                continue  # that number is taken: try the next
            state = await self._until_opened(handle)
            if state.status == ReturnStatus.REFUSED:
                kind = state.refusal_kind or "ReturnRefused"
                if kind == RMA_TAKEN:
                    continue
                raise ReturnRefused(state.stop_reason or "the return was refused", kind)
            return ReturnCreated(rma_id, handle.id, handle.first_execution_run_id, state)
        raise ReturnRefused(
            f"order {order_id} already has {MAX_RMAS_PER_ORDER} RMAs", "ReturnRefused"
        )

    async def _until_opened(
        self, handle: WorkflowHandle[ReturnWorkflow, object], within: float = 60.0
    ) -> ReturnState:
        """Poll the RMA's state until the workflow has opened or refused it. (A query, not an
        Update: it works against every server, the time-skipping test server included.)"""
        loop = asyncio.get_running_loop()
        give_up, pause = loop.time() + within, 0.02
        while True:
            state = await handle.query(ReturnWorkflow.state)
            if state.status != ReturnStatus.REQUESTED:
                return state
            if loop.time() > give_up:
                raise TimeoutError(
                    f"{state.rma_id} was started but not validated within {within:.0f}s; "
                    "is a worker running? Its state query will say when it is"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def return_status(self, rma_id: str) -> ReturnState:
        try:
            return await self.return_handle(rma_id).query(ReturnWorkflow.state)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise ReturnNotFound(f"return {rma_id} does not exist") from e
            raise

    async def report_return_received(self, rma_id: str, receipt: ReturnReceipt) -> None:
        """The return node received (and graded) the parcel; a repeated event id is ignored."""
        try:
            await self.return_handle(rma_id).signal(ReturnWorkflow.received, receipt)
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            state = await self.return_status(rma_id)  # raises ReturnNotFound
            raise ReturnClosed(f"return {rma_id} is already {state.status.value}") from e


class ReturnRefused(Exception):
    """An RMA could not be opened. `kind`: UnknownOrder, InvalidReturn or ReturnRefused."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class ReturnNotFound(LookupError):
    pass


class ReturnClosed(Exception):
    """The RMA has ended (received, expired or refused) and takes no more events."""


@dataclass(frozen=True)
class ReturnCreated:
    rma_id: str
    workflow_id: str
    run_id: str | None
    state: ReturnState


async def update_payment_method(dom: DomClient, order_id: str, token: str) -> PaymentSummary:
    """After a decline: authorize again with the customer's new payment method."""
    try:
        return await dom.handle(order_id).execute_update(
            OrderWorkflow.update_payment, PaymentUpdate(payment_token=token)
        )
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "PaymentRefused":
            raise HoldRefused(cause.message) from e
        raise
