"""Temporal interceptors that feed the domain metrics and the log context.

Worker side (`DomainInterceptor`, added to every worker by build_worker):
* each activity's input and result go to ActivityObservation (activity_metrics.py);
* while an activity runs, its order id, workflow id and activity name are in a contextvar the
  JSON log formatter reads, so any logger inside the activity (ledger, adapters) carries them;
* the order workflow stamps its sales channel on every activity it schedules (a header), so
  `close_order` can count closed orders by channel wherever it runs. Headers are not part of
  what replay compares, so recorded histories replay unchanged.

Client side (`ClientMetricsInterceptor`, on the API's client): orders received by channel when
their workflow starts (a resubmission that finds the order already there is not counted), and
node rejections as the partner event is signalled to the order.
"""

from __future__ import annotations

import time
from typing import Any

from temporalio import activity, workflow
from temporalio.client import (
    Interceptor as ClientInterceptor,
)
from temporalio.client import (
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.converter import PayloadConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from workers.observability import metrics
from workers.observability.activity_metrics import ActivityObservation
from workers.observability.context import activity_context

CHANNEL_HEADER = "dom-channel"
ORDER_WORKFLOW = "OrderWorkflow"
SHIPMENT_EVENT_SIGNAL = "shipment_event"


def _header_text(headers: Any, key: str) -> str | None:
    payload = headers.get(key) if headers else None
    if payload is None:
        return None
    try:
        value = PayloadConverter.default.from_payloads([payload])[0]
    except Exception:  # a header someone else wrote: not ours to fail on
        return None
    return value if isinstance(value, str) else None


class DomainInterceptor(Interceptor):
    """Worker interceptor: activity metrics and log context, the channel header."""

    def __init__(self, currency: str = "USD") -> None:
        self.observation = ActivityObservation(currency)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next, self.observation)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _ChannelInbound


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, observation: ActivityObservation) -> None:
        super().__init__(next)
        self.observation = observation

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        token = activity_context.set((info.workflow_id or "", info.activity_type))
        started = time.perf_counter()
        result: Any = None
        error: BaseException | None = None
        try:
            result = await super().execute_activity(input)
            return result
        except BaseException as e:
            error = e
            raise
        finally:
            activity_context.reset(token)
            try:
                self.observation.record(
                    info.activity_type,
                    input.args,
                    result,
                    error,
                    time.perf_counter() - started,
                    attempt=info.attempt,
                    channel=_header_text(input.headers, CHANNEL_HEADER) or "unknown",
                )
            except Exception:  # metrics never fail an activity
                activity.logger.debug("metrics for %s failed", info.activity_type, exc_info=True)


class _ChannelInbound(WorkflowInboundInterceptor):
    """Runs inside the workflow sandbox: reads the order's channel from its input (replayed
    identically on every worker) and hands it to the outbound side."""

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self._outbound = _ChannelOutbound(outbound)
        super().init(self._outbound)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        if workflow.info().workflow_type == ORDER_WORKFLOW and input.args:
            channel = getattr(input.args[0], "channel", None)
            if isinstance(channel, str):
                self._outbound.header = PayloadConverter.default.to_payloads([channel])[0]
        return await super().execute_workflow(input)


class _ChannelOutbound(WorkflowOutboundInterceptor):
    header: Any = None

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        if self.header is not None:
            input.headers = {**input.headers, CHANNEL_HEADER: self.header}
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        if self.header is not None:
            input.headers = {**input.headers, CHANNEL_HEADER: self.header}
        return super().start_local_activity(input)


class ClientMetricsInterceptor(ClientInterceptor):
    """Client interceptor for the API process: orders received, partner rejections."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _ClientOutbound(next)


class _ClientOutbound(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        if input.workflow == ORDER_WORKFLOW and input.args:
            channel = getattr(input.args[0], "channel", None)
            metrics.ORDERS_RECEIVED.labels(channel if isinstance(channel, str) else "unknown").inc()
        return handle

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await super().signal_workflow(input)
        if input.signal == SHIPMENT_EVENT_SIGNAL and input.args:
            event = input.args[0]
            if getattr(event, "type", None) == "rejected":
                node = metrics.node_of_shipment(str(getattr(event, "shipment_id", "")))
                metrics.REJECTIONS.labels(
                    node, metrics.reason_of(getattr(event, "reason", None))
                ).inc()
