"""Every recorded history under tests/replay/histories replays against today's workflow code.

A change that would break running orders fails here; gate it with workflow.patched. Re-record
with `make record-histories` only when a path is new (old histories stay, to keep old runs safe).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.order.conftest import OrderHarness
from tests.replay.scenarios import SCENARIOS
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
