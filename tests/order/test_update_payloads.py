"""Updates with payloads that do not decode are refused; the order's workflow tasks never fail."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.converter import DataConverter

from dom_workflows.order import names
from tests.support.harness import OrderHarness, make_order


@pytest.mark.parametrize(
    "update", [names.CANCEL, names.PLACE_HOLD, names.RELEASE_HOLD, names.UPDATE_PAYMENT]
)
@pytest.mark.parametrize(
    "payload", ["garbage", [1, 2], {"lines": "all"}, {"reason": 7, "kind": "x"}]
)
async def test_an_update_that_does_not_decode_is_refused_and_changes_nothing(
    harness: OrderHarness, update: str, payload: object
) -> None:
    handle = await harness.start(make_order([("TEE-MERINO-M", 1)]))
    before = await harness.instructed(handle)
    # A client that sends plain JSON, as any other SDK or the temporal CLI would.
    raw = Client(
        harness.client.service_client,
        namespace=harness.client.namespace,
        data_converter=DataConverter.default,
    )
    with pytest.raises(WorkflowUpdateFailedError):
        await raw.get_workflow_handle(handle.id).execute_update(update, payload)
    after = await harness.state(handle)
    assert after.status == before.status and after.holds == [] and after.lines == before.lines
    failed = [
        e
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    assert failed == []
