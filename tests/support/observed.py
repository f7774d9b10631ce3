"""An observed stack for the observability tests: the API (over ASGI) and a real worker on one
Temporal client that carries the process's telemetry runtime (SDK metrics), Temporal's
TracingInterceptor and the client metrics interceptor, partners played by a live simulator,
and spans caught by an in-memory exporter."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from dom_workflows.config import Settings
from dom_workflows.network import Network
from tests.support.api import SECRETS, Api
from tests.support.auth import authorize
from workers.api.app import ApiDeps, create_app
from workers.client import DomClient, connect
from workers.observability import tracing
from workers.observability.interceptors import ClientMetricsInterceptor
from workers.observability.sdk_metrics import temporal_telemetry
from workers.worker import build_worker, dependencies

_exporter = InMemorySpanExporter()
_provider: TracerProvider | None = None


@contextlib.contextmanager
def tracing_on() -> Iterator[InMemorySpanExporter]:
    """Tracing into the in-memory exporter for the block. OpenTelemetry allows one global
    provider per process: it is made once, and switched off for other tests afterwards."""
    global _provider
    if _provider is None:
        assert tracing._provider is None, "tracing was configured before the test"
        assert tracing.configure_tracing("dom-test", exporter=_exporter)
        _provider = tracing._provider
    tracing._provider = _provider
    _exporter.clear()
    try:
        yield _exporter
    finally:
        tracing._provider = None


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with (at least) `labels` in a Prometheus scrape."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def samples(text: str, name: str) -> list[dict[str, str]]:
    """The label sets of every sample called `name`."""
    return [
        dict(s.labels)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


@dataclass
class Observed:
    api: Api
    client: Client


@contextlib.asynccontextmanager
async def observed_stack(
    env: WorkflowEnvironment,
    engine: AsyncEngine,
    network: Network,
    task_queue: str,
    sim_url: str,
) -> AsyncIterator[Observed]:
    target = env.client.service_client.config.target_host
    settings = replace(
        Settings(), temporal_address=target, task_queue=task_queue, partner_sim_url=sim_url
    )
    client = await connect(
        settings,
        [ClientMetricsInterceptor(), *tracing.temporal_interceptors()],
        runtime=temporal_telemetry().runtime,
    )
    async with (
        dependencies(settings, engine=engine, network=network) as wdeps,
        build_worker(client, task_queue, wdeps),
    ):
        deps = ApiDeps(
            dom=DomClient(client, task_queue), engine=engine, network=network, secrets=SECRETS
        )
        app = create_app(deps)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://dom.test") as http:
            await authorize(http, engine)
            yield Observed(Api(http, deps, engine, SECRETS), client)
