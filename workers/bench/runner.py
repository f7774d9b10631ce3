"""The worker's workflow runner, and what it costs to build one workflow instance with it.

The DOM worker's runner comes from `workers.worker.workflow_runner()` when that exists; until
then the SDK default (`SandboxedWorkflowRunner()`, what `Worker` uses without a runner).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from temporalio.worker import WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner


def worker_runner() -> tuple[WorkflowRunner, str]:
    """(runner, where it came from)."""
    import workers.worker as dom_worker

    factory = getattr(dom_worker, "workflow_runner", None)
    if callable(factory):
        runner = factory()
        if isinstance(runner, WorkflowRunner):
            return runner, f"workers.worker.workflow_runner() ({type(runner).__name__})"
    return SandboxedWorkflowRunner(), "SDK default (SandboxedWorkflowRunner)"


@dataclass(frozen=True)
class BuildTime:
    first_ms: float  # the first instance: the sandbox imports the workflow's modules cold
    median_ms: float  # a typical instance once the worker has run a few
    p99_ms: float
    samples: int
    runner: str


def _details(defn: Any, runner: WorkflowRunner) -> Any:
    """The same fake instance details the sandbox uses to validate a workflow at start-up."""
    from temporalio.api.common.v1 import Payloads
    from temporalio.api.failure.v1 import Failure
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker._workflow_instance import WorkflowInstanceDetails
    from temporalio.worker.workflow_sandbox._runner import _fake_info

    return WorkflowInstanceDetails(
        payload_converter_factory=pydantic_data_converter._new_payload_converter,
        failure_converter_class=pydantic_data_converter.failure_converter_class,
        interceptor_classes=[],
        defn=defn,
        info=_fake_info,
        randomness_seed=-1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


async def instance_build_time(workflow_cls: type, samples: int = 30) -> BuildTime:
    """Time `runner.create_instance` for `workflow_cls` the way a worker builds one instance per
    workflow run it starts (or replays after eviction): `prepare_workflow` once (the worker does
    it at start-up), then `samples` instances, each timed on its own. Async because an instance
    registers itself on the running event loop while it is built, as in the worker."""
    from temporalio.workflow import _Definition

    runner, label = worker_runner()
    defn = _Definition.must_from_class(workflow_cls)
    details = _details(defn, runner)
    runner.prepare_workflow(defn)
    times: list[float] = []
    first = 0.0
    for i in range(samples + 1):
        t0 = time.perf_counter()
        runner.create_instance(details)
        elapsed = (time.perf_counter() - t0) * 1000
        if i == 0:
            first = elapsed
        else:
            times.append(elapsed)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return BuildTime(first, statistics.median(times), p99, samples, label)
