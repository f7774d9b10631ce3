"""Temporal binaries started as plain subprocesses (the binaries `dom dev` runs), and the
search attributes every server needs."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from dom_workflows.order import search_attributes as attrs

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """A Temporal binary we started ourselves. The SDK's own EphemeralServer (behind
    WorkflowEnvironment.start_time_skipping / start_local) leaves a native thread behind that
    aborts the interpreter at exit ("Fatal Python error: PyGILState_Release", exit code 134,
    reproduced with temporalio 1.35 and an existing test-server binary):
    https://github.com/temporalio/sdk-python/issues/300 (open). So tests launch the same
    binaries as plain subprocesses, exactly as `dom dev` does."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    async def connect(self, port: int) -> Client:
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.log.name}: exited early:\n{self.log.read_text()[-2000:]}"
                )
            try:
                return await Client.connect(
                    f"127.0.0.1:{port}", data_converter=pydantic_data_converter
                )
            except RuntimeError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"Temporal did not start on port {port}")

    async def shutdown(self) -> None:
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in attrs.ALL
            },
        )
    )
