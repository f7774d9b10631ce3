"""`dom return create|show|receive` against a real worker on the time-skipping server."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from dom_workflows.returns.models import ReturnStatus
from tests.support.harness import make_order
from tests.support.returns import Returns
from workers.cli.main import app

runner = CliRunner()


async def dom(monkeypatch: pytest.MonkeyPatch, r: Returns, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("TEMPORAL_ADDRESS", r.h.client.service_client.config.target_host)
    monkeypatch.setenv("DOM_TASK_QUEUE", r.h.task_queue)
    # The CLI runs its own event loop: give it a thread.
    result = await asyncio.to_thread(runner.invoke, app, list(args))
    return result.exit_code, result.output


async def test_create_show_and_receive_from_the_cli(
    returns: Returns, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = make_order([("BOOT-HIKE-9", 1)])
    await returns.deliver(order)
    code, out = await dom(monkeypatch, returns, "return", "create", order.order_id, "--line", "1:1")
    assert code == 0, out
    rma = json.loads(out)["rma_id"]
    assert rma == f"RMA-{order.order_id}-1"
    code, out = await dom(monkeypatch, returns, "return", "create", order.order_id, "--line", "1:1")
    assert code == 1 and "only 0 of the 1 delivered" in out
    code, out = await dom(monkeypatch, returns, "return", "show", rma)
    assert code == 0 and "return_open" in out and "wh-columbus" in out
    code, out = await dom(
        monkeypatch, returns, "return", "receive", rma, "--line", "1:1:resell", "--event-id", "e1"
    )
    assert code == 0, out
    assert (await returns.result(rma)).status == ReturnStatus.REFUNDED
    code, out = await dom(monkeypatch, returns, "return", "show", rma, "--json")
    assert code == 0 and json.loads(out)["status"] == "refunded"
    code, out = await dom(monkeypatch, returns, "return", "show", "RMA-NOPE-1")
    assert code == 3 and "does not exist" in out
