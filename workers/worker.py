"""The DOM worker process: every domain's workflows and activities on one task queue.

Scale horizontally by running more of these; they share nothing but Temporal and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.alerts.activities import alert_activities
from activities.backorder.activities import WaitlistActivities
from activities.carrier.activities import CarrierActivities
from activities.common.partner_http import new_client
from activities.consolidation.activities import ConsolidationActivities
from activities.fulfillment.activities import FulfillmentActivities
from activities.inventory.activities import InventoryActivities
from activities.inventory.db import create_engine, migrate
from activities.inventory.hold_sweep import CartHoldActivities
from activities.inventory.inbound_activities import InboundActivities
from activities.network import store as network_store
from activities.network.live import LiveNetworks
from activities.order.activities import OrderActivities
from activities.payment.activities import PaymentActivities
from activities.reconcile.activities import reconcile_activities
from activities.returns.activities import ReturnActivities, ReturnClientActivities
from activities.supplier.activities import SupplierActivities
from dom_workflows.alerts.workflows import AlertEvaluationWorkflow
from dom_workflows.backorder.workflows import BackorderWorkflow, SkuWaitlistWorkflow
from dom_workflows.carts.workflows import CartHoldSweepWorkflow
from dom_workflows.config import Settings
from dom_workflows.consolidation.workflows import ConsolidationWorkflow
from dom_workflows.network import Network, load_network
from dom_workflows.order.models import PartnerSetup
from dom_workflows.order.workflows import OrderWorkflow
from dom_workflows.reconcile.workflows import ReconciliationWorkflow
from dom_workflows.returns.workflows import ReturnWorkflow
from dom_workflows.routing import load_policy
from workers.observability import tracing
from workers.observability.interceptors import DomainInterceptor
from workers.observability.partner_calls import observe_partner_calls

log = logging.getLogger("dom.worker")

WORKFLOWS: list[type] = [
    OrderWorkflow,
    BackorderWorkflow,
    SkuWaitlistWorkflow,
    ConsolidationWorkflow,
    ReturnWorkflow,
    CartHoldSweepWorkflow,
    AlertEvaluationWorkflow,
    ReconciliationWorkflow,
]


@dataclass
class Dependencies:
    engine: AsyncEngine
    network: Network
    policy: Any
    http: httpx.AsyncClient
    carrier_url: str | None = None
    payment_url: str | None = None
    supplier_url: str | None = None
    # Routing follows the active network version (activities/network); None: the files only.
    live: LiveNetworks | None = None

    def partners(self) -> PartnerSetup:
        suppliers = self.supplier_url is not None or any(
            (n.model_extra or {}).get("supplier_endpoint")
            for n in self.network.nodes
            if n.type == "dropship"
        )
        return PartnerSetup(
            payments=self.payment_url is not None,
            carrier_labels=self.carrier_url is not None,
            supplier_pos=suppliers,
        )

    def activities(self) -> list[Any]:
        inventory = InventoryActivities(self.engine, self.network, self.policy, live=self.live)
        order = OrderActivities(self.engine, self.network, self.partners())
        fulfillment = FulfillmentActivities(self.network, self.http)
        acts: list[Any] = [
            order.validate_order,
            inventory.reserve_and_route,
            inventory.release_reservations,
            inventory.consume_reservations,
            inventory.receive_inventory,
            inventory.record_unplanned_outbound,
            inventory.close_order,
            InboundActivities(self.engine).allocate_backorders,
            CartHoldActivities(self.engine).expire_cart_holds,
            fulfillment.instruct_node,
            fulfillment.cancel_at_node,
            fulfillment.amend_at_node,
        ]
        # Partner adapters exist only where configured; validation tells each order which, so
        # a run never calls an activity its workers lack.
        if self.payment_url:
            pay = PaymentActivities(self.http, self.payment_url)
            acts += [
                pay.authorize_payment,
                pay.capture_payment,
                pay.void_payment,
                pay.refund_payment,
            ]
        if self.carrier_url:
            carrier = CarrierActivities(self.http, self.carrier_url)
            acts += [carrier.rate_shop, carrier.purchase_label, carrier.void_label]
        supplier = SupplierActivities(self.http, self.network, fallback_base_url=self.supplier_url)
        acts += [supplier.send_purchase_order, supplier.cancel_purchase_order]
        returns = ReturnActivities(self.engine, self.network, self.partners())
        acts += [
            returns.open_return,
            returns.record_return_receipt,
            returns.restock_returned,
            returns.expire_return,
            returns.close_return,
        ]
        return acts


@contextlib.asynccontextmanager
async def dependencies(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    network: Network | None = None,
    versioned: bool | None = None,
) -> AsyncIterator[Dependencies]:
    """`versioned`: route by the database's active network version, seeding version 1 from the
    files at first start (default: when this process owns its engine, i.e. a real worker)."""
    own_engine = engine is None
    eng = engine or create_engine(settings.database_url)
    if own_engine:
        await migrate(eng)
    # Explicit pool limits and timeouts; partner adapters send through partner_http.send, so a
    # cancelled activity never leaks a pool slot.
    async with new_client() as http:
        # Partner calls: a span each when tracing is on, latency and errors as metrics.
        tracing.instrument_http_client(http)
        observe_partner_calls()
        configured = network or load_network(settings.network_path)
        routing_policy = load_policy(settings.policy_path)

        def overlay(net: Network) -> Network:
            """What this process changes in every network it runs (a version's too)."""
            if settings.consolidation_window is not None:
                policy = net.order_policy.model_copy(
                    update={"consolidation_window": settings.consolidation_window}
                )
                net = net.model_copy(update={"order_policy": policy})
            if settings.sla_override is not None:
                sla = dict.fromkeys(net.sla, settings.sla_override)
                net = net.model_copy(update={"sla": sla})
            if settings.partner_sim_url:
                net = with_simulated_nodes(net, settings.partner_sim_url)
            return net

        net = overlay(configured)
        live = None
        if versioned if versioned is not None else own_engine:
            await network_store.seed(eng, configured, routing_policy)
            live = LiveNetworks(overlay)
        try:
            yield Dependencies(
                engine=eng,
                network=net,
                policy=routing_policy,
                live=live,
                http=http,
                carrier_url=settings.carrier_url,
                payment_url=settings.payment_url,
                supplier_url=settings.supplier_url,
            )
        finally:
            if own_engine:
                await eng.dispose()


def with_simulated_nodes(network: Network, sim_url: str) -> Network:
    """Nodes with no endpoint of their own are played by the partner simulator."""
    nodes = [
        n
        if n.endpoint
        else n.model_copy(update={"endpoint": f"{sim_url.rstrip('/')}/nodes/{n.id}"})
        for n in network.nodes
    ]
    return network.model_copy(update={"nodes": nodes})


def client_activities(client: Client, task_queue: str) -> list[Any]:
    """Activities that need the Temporal client itself (signal-with-start)."""
    waitlist = WaitlistActivities(client, task_queue)
    consolidation = ConsolidationActivities(client, task_queue)
    returns = ReturnClientActivities(client)
    return [
        waitlist.join_waitlist,
        waitlist.leave_waitlist,
        consolidation.join_consolidation,
        returns.read_order_for_return,
        returns.wake_backorders,
    ]


# Modules the sandbox shares with the worker instead of re-importing them for every workflow
# run: the project's own (deterministic where workflows use them: tests/test_layers.py and the
# replay tests keep them so) and the libraries their models are made of. Re-importing them cost
# ~40 ms of CPU per workflow instance. rich is here because a worker whose stderr is a rich
# console writes its log records from inside the sandbox.
PASSTHROUGH_MODULES = (
    "dom_workflows",
    "activities",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "sqlalchemy",
    "httpx",
    "yaml",
    "zipcodes",
    "rich",
    # Temporal's TracingInterceptor runs in the sandbox and keeps its context in OpenTelemetry.
    "opentelemetry",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_worker(client: Client, task_queue: str, deps: Dependencies, **kwargs: Any) -> Worker:
    kwargs.setdefault(
        "activities",
        deps.activities()
        + client_activities(client, task_queue)
        + alert_activities(client, task_queue, deps.engine)
        + reconcile_activities(
            client,
            deps.engine,
            deps.network,
            deps.http,
            payment_url=deps.payment_url,
            carrier_url=deps.carrier_url,
        ),
    )
    kwargs.setdefault("workflow_runner", workflow_runner())
    # Domain metrics and log context from every activity (workers/observability).
    kwargs.setdefault("interceptors", [DomainInterceptor(deps.network.currency)])
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS, **kwargs)


async def run_worker(
    settings: Settings, stop: asyncio.Event | None = None, metrics_port: int | None = None
) -> None:
    """Run a worker until `stop`. Metrics are served on `metrics_port` (else DOM_METRICS_PORT;
    0 = a free port; neither = no metrics server); traces are exported when OTLP is set."""
    from workers.client import connect
    from workers.observability.sdk_metrics import temporal_telemetry
    from workers.observability.server import metrics_server, worker_metrics_port
    from workers.partner_events import delivering
    from workers.schedules import start_schedules

    tracing.configure_tracing("dom-worker")
    telemetry = temporal_telemetry()
    port = worker_metrics_port(metrics_port)
    client = await connect(settings, tracing.temporal_interceptors(), runtime=telemetry.runtime)
    async with dependencies(settings) as deps, telemetry.draining(), metrics_server(port):
        worker = build_worker(client, settings.task_queue, deps)
        await start_schedules(client, settings.task_queue)
        log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        async with worker, delivering(client, deps.engine):
            await (stop or asyncio.Event()).wait()
