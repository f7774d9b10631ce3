"""Every recorded history under tests/replay/histories replays against today's workflow code.

A change that would break running orders fails here; gate it with workflow.patched. Re-record
with `make record-histories` only when a path is new (old histories stay, to keep old runs safe).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from dom_workflows.network import Network
from tests.conftest import LiveSim
from tests.order.conftest import OrderHarness, order_harness
from tests.replay.scenarios import RETURN_SCENARIOS, SCENARIOS
from tests.returns.conftest import partner_settings
from workers.worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
RECORDING = os.environ.get("DOM_RECORD_HISTORIES") == "1"
# Recorded histories guard runs started by older code: never overwrite one unless asked.
FORCE = os.environ.get("DOM_RECORD_FORCE") == "1"


def already_recorded(prefix: str) -> bool:
    return not FORCE and any(HISTORIES.glob(f"{prefix}*.json"))


def history_files() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_every_workflow_path_has_a_recorded_history() -> None:
    recorded = {p.stem for p in history_files()}
    assert set(SCENARIOS) <= recorded, f"record missing paths: {set(SCENARIOS) - recorded}"


@pytest.mark.parametrize("path", history_files(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    data = json.loads(path.read_text())
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


@pytest.mark.skipif(not RECORDING, reason="set DOM_RECORD_HISTORIES=1 (make record-histories)")
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_record(name: str, harness: OrderHarness) -> None:
    if already_recorded(name):
        pytest.skip(f"{name} is recorded (DOM_RECORD_FORCE=1 to overwrite)")
    handle = await SCENARIOS[name](harness)
    history = await handle.fetch_history()
    out = HISTORIES / f"{name}.json"
    out.write_text(
        json.dumps({"workflow_id": handle.id, "history": json.loads(history.to_json())}, indent=1)
    )


# ----------------------------------------------------------------- returns
# ReturnWorkflow paths need the partners (payments, carrier): recorded with the simulator.


@pytest_asyncio.fixture
async def partnered_harness(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> AsyncIterator[OrderHarness]:
    async with order_harness(
        time_env, sqlite_engine, network, task_queue, partner_settings(live_sim)
    ) as h:
        yield h


def test_every_return_path_has_a_recorded_history() -> None:
    recorded = {p.stem for p in history_files()}
    missing = set(RETURN_SCENARIOS) - recorded
    assert not missing, f"record missing paths: {missing}"


@pytest.mark.skipif(not RECORDING, reason="set DOM_RECORD_HISTORIES=1 (make record-histories)")
@pytest.mark.parametrize("name", sorted(RETURN_SCENARIOS))
async def test_record_return(name: str, partnered_harness: OrderHarness) -> None:
    if already_recorded(name):
        pytest.skip(f"{name} is recorded (DOM_RECORD_FORCE=1 to overwrite)")
    handle = await RETURN_SCENARIOS[name](partnered_harness)
    history = await handle.fetch_history()
    out = HISTORIES / f"{name}.json"
    out.write_text(
        json.dumps({"workflow_id": handle.id, "history": json.loads(history.to_json())}, indent=1)
    )
