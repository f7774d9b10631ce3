"""Every recorded history under tests/replay/histories replays against today's workflow code,
in this process and in fresh processes with other hash seeds (command order must not depend on
set iteration or anything else that differs between processes).

Until 1.0 a change of a recorded path is re-recorded (`make record-histories`); from 1.0 on,
see docs/versioning.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.replay.scenarios import RETURN_SCENARIOS, SCENARIOS
from workers.worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).parent / "histories"


def history_files() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_every_workflow_path_has_a_recorded_history() -> None:
    recorded = {p.stem for p in history_files()}
    assert set(SCENARIOS) <= recorded, f"record missing paths: {set(SCENARIOS) - recorded}"


@pytest.mark.parametrize("path", history_files(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    data = json.loads(path.read_text())
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)


def test_every_return_path_has_a_recorded_history() -> None:
    recorded = {p.stem for p in history_files()}
    missing = set(RETURN_SCENARIOS) - recorded
    assert not missing, f"record missing paths: {missing}"


FLOWS = [
    "flow_backorder_filled",
    "flow_fraud_hold_released",
    "flow_partial_rejection",
    "flow_payments_dropship_store_label",
    "flow_consolidated_orders",
    "flow_partial_cancel_amended",
    "flow_cancel_node_first",
]


def test_every_flow_has_recorded_histories() -> None:
    recorded = {p.name.split("__")[0] for p in HISTORIES.glob("flow_*.json")}
    assert set(FLOWS) <= recorded, f"record missing flows: {set(FLOWS) - recorded}"


@pytest.mark.parametrize("seed", ["0", "4242"])
def test_histories_replay_in_a_fresh_process_with_another_hash_seed(seed: str) -> None:
    """String hashing differs between processes; a workflow whose commands depended on it
    (iterating a set, say) would replay differently after a worker restart."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.replay.replay_all"],
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"replayed {len(history_files())} histories" in done.stdout
