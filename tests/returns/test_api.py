"""The returns endpoints over the ASGI app, against a real worker (simulator as payment provider
and carrier), the time-skipping server and a SQLite ledger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from dom_workflows.network import Network
from dom_workflows.order.models import ShipmentEvent, ShipmentStatus
from dom_workflows.returns.models import ReturnState, ReturnStatus
from tests.support.api import Api, api_on, assert_problem
from tests.support.returns import partner_settings
from tests.support.sim import LiveSim
from tests.support.until import until

NODE = "wh-columbus"  # the network's return node


@pytest_asyncio.fixture
async def api(
    time_env: WorkflowEnvironment,
    sqlite_engine: AsyncEngine,
    network: Network,
    task_queue: str,
    live_sim: LiveSim,
) -> AsyncIterator[Api]:
    settings = partner_settings(live_sim)
    async with api_on(time_env, sqlite_engine, network, task_queue, settings) as api:
        yield api


async def delivered_order(api: Api, qty: int = 2) -> str:
    oid = await api.submit(lines=[("BOOT-HIKE-9", qty)])
    state = await api.instructed(oid)
    for sh in state.shipments:
        for type_ in ("shipped", "delivered"):
            await api.deps.dom.send_shipment_event(
                oid,
                ShipmentEvent(
                    event_id=f"{sh.shipment_id}:{type_}",
                    shipment_id=sh.shipment_id,
                    type=type_,  # type: ignore[arg-type]
                    carrier="UPS",
                    tracking="1Z",
                ),
            )
    await api.until(
        oid,
        lambda s: all(
            sh.status == ShipmentStatus.DELIVERED and sh.capture_id for sh in s.shipments
        ),
        "delivered and captured",
    )
    return oid


def body(*lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    return {
        "lines": [{"line_id": lid, "qty": q, "reason": "does not fit"} for lid, q in lines],
        **extra,
    }


def event(rma_id: str, *lines: tuple[str, int, str], event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"rcv-{uuid.uuid4().hex[:8]}",
        "type": "return.received",
        "rma_id": rma_id,
        "lines": [{"line_id": lid, "qty": q, "grade": g} for lid, q, g in lines],
    }


async def rma_state(api: Api, rma_id: str) -> ReturnState:
    r = await api.http.get(f"/v1/returns/{rma_id}")
    assert r.status_code == 200, r.text
    return ReturnState.model_validate(r.json())


async def until_status(api: Api, rma_id: str, status: ReturnStatus) -> ReturnState:
    return await until(
        lambda: rma_state(api, rma_id),
        lambda st: st.status == status,
        f"{rma_id} to reach {status}",
        describe=lambda st: st.model_dump_json(indent=1),
    )


async def test_open_receive_and_refund_over_http(api: Api, live_sim: LiveSim) -> None:
    oid = await delivered_order(api)
    r = await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 2)))
    assert r.status_code == 202, r.text
    doc = r.json()
    rma = doc["rma_id"]
    assert rma == f"RMA-{oid}-1" and doc["workflow_id"] == f"return-{rma}"
    assert doc["status"] == "return_open" and doc["return_node"] == NODE
    assert doc["status_url"] == f"http://dom.test/v1/returns/{rma}" == r.headers["location"]
    st = await rma_state(api, rma)
    assert [(ln.line_id, ln.qty, ln.reason) for ln in st.lines] == [("1", 2, "does not fit")]

    ev = event(rma, ("1", 1, "resell"), ("1", 1, "refurbish"))
    r = await api.signed(NODE, "returns", ev)
    assert r.status_code == 202 and r.json() == {
        "event_id": ev["event_id"],
        "rma_id": rma,
        "status": "applied",
    }
    dup = await api.signed(NODE, "returns", ev)
    assert dup.status_code == 200 and dup.json()["status"] == "duplicate"
    st = await until_status(api, rma, ReturnStatus.REFUNDED)
    assert st.refunded is not None and st.refunded.amount == Decimal("100.00")
    assert (st.lines[0].resell, st.lines[0].refurbish, st.lines[0].restocked) == (1, 1, 1)
    assert sum(1 for s in live_sim.effects()["by_subject"] if s.startswith("refund:")) == 1
    # The RMA has ended: a new event is refused with the reason; the old one is still a 200.
    late = await api.signed(NODE, "returns", event(rma, ("1", 1, "resell")))
    assert_problem(late, 409, "already refunded", "not applied")
    assert (await api.signed(NODE, "returns", ev)).status_code == 200


async def test_refused_returns_say_why(api: Api) -> None:
    oid = await delivered_order(api, qty=1)
    assert_problem(
        await api.http.post("/v1/orders/NO-SUCH/returns", json=body(("1", 1))), 404, "NO-SUCH"
    )
    assert_problem(await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 0))), 422)
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/returns", json={**body(("1", 1)), "x": 1}), 422
    )
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/returns", content=b"nope"), 422, "not valid JSON"
    )
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/returns", json=body(("7", 1))), 422, "no line '7'"
    )
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 2))),
        409,
        "only 1 of the 1 delivered",
    )
    assert (
        await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1)))
    ).status_code == 202
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1))),
        409,
        "only 0 of the 1 delivered",
    )
    undelivered = await api.submit(lines=[("BOOT-HIKE-9", 1)])
    await api.instructed(undelivered)
    assert_problem(
        await api.http.post(f"/v1/orders/{undelivered}/returns", json=body(("1", 1))),
        409,
        "delivered",
    )
    assert_problem(await api.http.get("/v1/returns/RMA-NOPE-1"), 404, "does not exist")
    assert_problem(await api.http.get("/v1/returns/not-an-rma"), 404)


async def test_window_closed_is_a_409(api: Api, time_env: WorkflowEnvironment) -> None:
    oid = await delivered_order(api, qty=1)
    await time_env.sleep(timedelta(days=31))
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1))),
        409,
        "return window closed",
    )


async def test_return_webhook_checks(api: Api) -> None:
    oid = await delivered_order(api, qty=1)
    rma = (await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1)))).json()["rma_id"]
    ok = event(rma, ("1", 1, "scrap"))
    assert_problem(await api.signed(NODE, "returns", ok, secret="wrong"), 401)
    assert_problem(await api.signed("wh-reno", "returns", ok), 403, "wh-columbus")
    assert_problem(await api.signed(NODE, "returns", event("RMA-NOPE-1", ("1", 1, "scrap"))), 404)
    assert_problem(await api.signed(NODE, "returns", {**ok, "lines": []}), 422)
    bad_grade = {**ok, "lines": [{"line_id": "1", "qty": 1, "grade": "shiny"}]}
    assert_problem(await api.signed(NODE, "returns", bad_grade), 422)
    assert_problem(
        await api.signed(NODE, "returns", event(rma, ("1", 2, "scrap"))), 422, "1 authorised"
    )
    assert_problem(await api.signed(NODE, "returns", event(rma, ("2", 1, "scrap"))), 422, "not on")
    st = await rma_state(api, rma)
    assert st.status == ReturnStatus.OPEN and st.receipt_event_id is None  # nothing applied
    assert (await api.signed(NODE, "returns", ok)).status_code == 202
    st = await until_status(api, rma, ReturnStatus.REFUNDED)
    assert st.lines[0].scrap == 1 and st.lines[0].restocked == 0


async def test_a_retried_return_request_opens_one_rma(api: Api, live_sim: LiveSim) -> None:
    oid = await delivered_order(api)
    headers = {"Idempotency-Key": "channel-retry-1"}
    first = await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1)), headers=headers)
    again = await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1)), headers=headers)
    assert (first.status_code, again.status_code) == (202, 200), (first.text, again.text)
    assert again.json()["rma_id"] == first.json()["rma_id"] == f"RMA-{oid}-1"
    other = await api.http.post(f"/v1/orders/{oid}/returns", json=body(("1", 1)))
    assert other.status_code == 202 and other.json()["rma_id"] == f"RMA-{oid}-2"
