"""The bare reference for `dom bench e2e`: one workflow that runs one trivial activity, the shape
of Temporal's own Python SDK benchmark. It runs on the same dev server as the DOM orders, in its
own worker process on its own task queue.

This module is imported into the workflow sandbox for every bare workflow run, so it imports
nothing heavy at module level (the worker process imports the DOM worker's runner lazily).

`python -m workers.bench.bare --address HOST:PORT --task-queue QUEUE` runs the bare worker until
SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_bare_activity")
async def bare_activity(name: str) -> str:
    return f"hello {name}"


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            bare_activity, name, start_to_close_timeout=timedelta(seconds=30)
        )


async def serve(address: str, task_queue: str) -> None:
    """Poll `task_queue` until SIGTERM / SIGINT; the worker shuts down inside the event loop."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    from workers.bench.runner import worker_runner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await Client.connect(address)
    runner, _ = worker_runner()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BareWorkflow],
        activities=[bare_activity],
        workflow_runner=runner,
    ):
        print(f"bare worker polling {task_queue} on {address}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers.bench.bare")
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
