"""OpenTelemetry tracing: one trace from `POST /v1/orders` through the order workflow, its
activities and the HTTP calls to partners.

* the API's FastAPI app is instrumented (a server span per request);
* its Temporal client and the worker's carry Temporal's TracingInterceptor, which passes the
  context in workflow and activity headers (StartWorkflow -> RunWorkflow -> StartActivity ->
  RunActivity spans);
* the worker's partner httpx client is instrumented (a client span per call, and the
  `traceparent` header to the partner).

Export is standard OpenTelemetry configuration: with OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans go over OTLP/HTTP in batches; OTEL_SERVICE_NAME
and OTEL_RESOURCE_ATTRIBUTES name the process. Without either, nothing is set up at all: no
provider, no interceptor, no instrumentation, no cost.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)

log = logging.getLogger("dom.observability")

OTLP_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and scrapes are not worth a trace each.
EXCLUDED_URLS = "healthz,metrics"

_provider: TracerProvider | None = None
_lock = threading.Lock()


def otlp_configured() -> bool:
    return any(os.environ.get(name) for name in OTLP_ENV)


def configure_tracing(service_name: str, *, exporter: SpanExporter | None = None) -> bool:
    """Install the process's tracer provider once; True when tracing is on.

    `exporter` (tests: an in-memory exporter) is used synchronously; otherwise OTLP/HTTP when
    the standard environment variables name an endpoint. Later calls keep the first provider
    (`dom dev` runs the API and the worker in one process)."""
    global _provider
    with _lock:
        if _provider is not None:
            return True
        if exporter is None and not otlp_configured():
            return False
        resource = Resource.create({"service.name": service_name})
        provider = TracerProvider(resource=resource)
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _provider = provider
        log.info("tracing on: %s", "in-process exporter" if exporter else "OTLP/HTTP export")
        return True


def tracing_enabled() -> bool:
    return _provider is not None


def temporal_interceptors() -> list[Any]:
    """Temporal's TracingInterceptor when tracing is on (client and worker: pass it to
    Client.connect and workers made from that client inherit it)."""
    if not tracing_enabled():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument_app(app: FastAPI) -> None:
    """A server span per request (the route template names it), when tracing is on."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """A client span per partner call, and `traceparent` on the request, when tracing is on."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)


def shutdown_tracing() -> None:
    """Flush spans still in the batch (the end of a process)."""
    if _provider is not None:
        _provider.force_flush(5_000)
