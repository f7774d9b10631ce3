"""Counts the Temporal calls the API makes per workflow, for `dom bench e2e`: with
DOM_TEMPORAL_CALL_LOG=FILE the API writes {workflow_id: {call: n}} there when it stops."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)


class CallCounter(Interceptor):
    def __init__(self) -> None:
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Counting(next, self)

    def count(self, workflow_id: str, call: str) -> None:
        self.calls[workflow_id][call] += 1

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({w: dict(c) for w, c in self.calls.items()}))


class _Counting(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, counter: CallCounter) -> None:
        super().__init__(next)
        self._counter = counter

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        self._counter.count(input.id, "start")
        return await super().start_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._counter.count(input.id, "query")
        return await super().query_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        self._counter.count(input.id, "signal")
        await super().signal_workflow(input)

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        self._counter.count(input.id, "update")
        return await super().start_workflow_update(input)
