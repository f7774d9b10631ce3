"""Replay every recorded history in this process: `python -m tests.replay.replay_all`.
tests/replay/test_replay.py runs it in fresh processes with other PYTHONHASHSEEDs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).parent / "histories"


async def replay_all() -> int:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    files = sorted(HISTORIES.glob("*.json"))
    for path in files:
        data = json.loads(path.read_text())
        history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
        try:
            await replayer.replay_workflow(history)
        except Exception as e:
            print(f"{path.name}: {e}")
            return 1
    print(f"replayed {len(files)} histories")
    return 0


if __name__ == "__main__":
    code = asyncio.run(replay_all())
    sys.stdout.flush()
    # os._exit: the SDK's native threads can abort a normal interpreter shutdown
    # (PyGILState_Release, exit -6) after every history replayed.
    os._exit(code)
