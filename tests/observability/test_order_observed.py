"""One order through the observed stack (API over ASGI, a real worker, partners played by the
live simulator, the real dev server): the span tree from POST /v1/orders down to the HTTP
call to the node, and the API's and a worker's /metrics after the order ran."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from dom_workflows.order.models import order_workflow_id
from tests.support.observed import observed_stack, sample, samples, tracing_on
from tests.support.sim import LiveSim
from workers.observability.server import metrics_server

pytestmark = pytest.mark.devserver


def lineage(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    """Names of `span` and its ancestors, nearest first (stops where a parent is missing)."""
    by_id = {s.context.span_id: s for s in spans}
    names, current = [], span
    while True:
        names.append(current.name)
        if current.parent is None or current.parent.span_id not in by_id:
            return names
        current = by_id[current.parent.span_id]


async def test_one_trace_from_post_orders_through_the_workflow_to_the_node_call(
    dev_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    with tracing_on() as exporter:
        async with observed_stack(
            dev_env, sqlite_engine, network, task_queue, live_sim.url
        ) as stack:
            order_id = await stack.api.submit()
            await stack.api.instructed(order_id)
        spans = list(exporter.get_finished_spans())
    calls = [
        s
        for s in spans
        if s.kind == SpanKind.CLIENT
        and "fulfillment-requests"
        in str(s.attributes.get("url.full", s.attributes.get("http.url")))
    ]
    assert calls, [s.name for s in spans]
    chain = lineage(calls[0], spans)
    # Temporal's TracingInterceptor hangs the workflow's spans off the context that started
    # it: RunWorkflow and the workflow's StartActivity are both children of StartWorkflow.
    assert chain[1:] == [
        "RunActivity:instruct_node",
        "StartActivity:instruct_node",
        "StartWorkflow:OrderWorkflow",
        "POST /v1/orders",
    ], chain
    run = next(s for s in spans if s.name == "RunWorkflow:OrderWorkflow")
    assert lineage(run, spans)[1:] == ["StartWorkflow:OrderWorkflow", "POST /v1/orders"]
    root = next(s for s in spans if s.name == "POST /v1/orders")
    assert root.kind == SpanKind.SERVER
    assert {s.context.trace_id for s in spans if s.name in chain} == {root.context.trace_id}
    assert calls[0].attributes.get("http.response.status_code", 202) < 300


async def test_api_and_worker_scrapes_show_domain_and_sdk_series_after_an_order(
    dev_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    async with (
        observed_stack(dev_env, sqlite_engine, network, task_queue, live_sim.url) as stack,
        metrics_server(0, "127.0.0.1") as port,
    ):
        api = stack.api
        before = (await api.http.get("/metrics")).text
        order_id = await api.submit()
        state = await api.instructed(order_id)
        first = state.shipments[0]
        # The node turns it down (a signed partner event): counted by node and reason.
        r = await api.signed(
            first.node,
            "events",
            {
                "event_id": f"{first.shipment_id}:rej",
                "type": "fulfillment.rejected",
                "shipment_id": first.shipment_id,
                "reason": "stock discrepancy at cycle count",
            },
        )
        assert r.status_code == 202, r.text
        await api.until(
            order_id, lambda s: len(s.shipments) > 1 and len(s.timeline) > 0, "a re-route"
        )
        # Refused webhooks: a forged signature, a stale timestamp, an unknown partner.
        body = {"event_id": "x", "type": "fulfillment.accepted", "shipment_id": "A:1:wh-reno"}
        assert (await api.signed("wh-reno", "events", body, secret="wrong")).status_code == 401
        stale = await api.signed("wh-reno", "events", body, at=time.time() - 3600)
        assert stale.status_code == 401
        assert (await api.signed("wh-reno", "events", body, secret="x")).status_code == 401
        nobody = await api.http.post("/v1/partners/no-such-partner-42/events", json=body)
        assert nobody.status_code == 401
        # Cancelled: the node is asked, the books close as "cancelled" (channel web).
        r = await api.http.post(f"/v1/orders/{order_id}/cancel", json={"reason": "test"})
        assert r.status_code == 200, r.text
        handle = stack.client.get_workflow_handle(order_workflow_id(order_id))
        async with asyncio.timeout(30):
            await handle.result()

        r = await api.http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        scraped = r.text
        async with httpx.AsyncClient() as http:
            worker = (await http.get(f"http://127.0.0.1:{port}/metrics")).text

    def delta(name: str, **labels: str) -> float:
        return (sample(scraped, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert delta("dom_orders_received_total", channel="web") == 1
    assert delta("dom_orders_closed_total", status="cancelled", channel="web") == 1
    assert delta("dom_routing_duration_seconds_count", outcome="ok") == 2
    assert delta("dom_order_shipments_count") == 1
    assert delta("dom_order_fulfilment_cost_count", currency="USD") == 1
    assert delta("dom_order_fulfilment_cost_sum", currency="USD") > 0
    assert delta("dom_shipments_planned_total", node=first.node) >= 1
    assert delta("dom_shipment_rejections_total", node=first.node, reason="stock") == 1
    assert delta("dom_partner_call_duration_seconds_count", partner="node", outcome="ok") >= 2
    assert delta("dom_webhook_refusals_total", source="wh-reno", reason="bad-signature") == 2
    assert delta("dom_webhook_refusals_total", source="wh-reno", reason="stale-timestamp") == 1
    assert delta("dom_webhook_refusals_total", source="unknown", reason="unknown-partner") == 1
    assert delta("dom_http_requests_total", method="POST", route="/v1/orders", status="2xx") == 1
    # Never an id as a label value.
    assert not any(
        order_id in v for ls in samples(scraped, "dom_http_requests_total") for v in ls.values()
    )

    # The Temporal SDK's own series, with their labels, on both endpoints.
    for text in (scraped, worker):
        assert (
            sample(
                text,
                "temporal_activity_execution_latency_seconds_count",
                activity_type="instruct_node",
                task_queue=task_queue,
            )
            or 0
        ) >= 2
        assert (
            sample(
                text,
                "temporal_workflow_completed_total",
                workflow_type="OrderWorkflow",
                task_queue=task_queue,
            )
            or 0
        ) >= 1
        assert sample(text, "dom_orders_closed_total", status="cancelled", channel="web")


async def test_metrics_on_the_api_need_an_ops_key(
    dev_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> None:
    async with observed_stack(dev_env, sqlite_engine, network, task_queue, live_sim.url) as stack:
        anonymous = await stack.api.http.get("/metrics", headers={"Authorization": ""})
        assert anonymous.status_code == 401
