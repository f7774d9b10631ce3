"""POST/GET/PATCH /v1/inbound over HTTP with a real worker and ledger: an order that backorders
shows the PO's date, a late PO moves it, the PO's arrival makes the order ship; refusals are
problem+json and change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.inventory import inbound
from dom_workflows.network import Network
from tests.support.api import Api, api_on, assert_problem
from tests.support.auth import auth_headers, new_key
from tests.support.catalog import with_unstocked_sku

SKU = "KAYAK-SEAT"  # nobody stocks it
DUE = "2031-05-01T12:00:00Z"
LATE = "2031-05-20T12:00:00+00:00"


@pytest_asyncio.fixture
async def api(
    time_env: WorkflowEnvironment, sqlite_engine: AsyncEngine, network: Network, task_queue: str
) -> AsyncIterator[Api]:
    net = await with_unstocked_sku(sqlite_engine, network, SKU)
    async with api_on(time_env, sqlite_engine, net, task_queue) as api:
        yield api


def po(qty: int = 3, **kw: object) -> dict[str, object]:
    return {"id": "PO-7", "node": "wh-dallas", "sku": SKU, "qty": qty, "expected_at": DUE, **kw}


async def test_a_backordered_order_follows_its_po_from_date_to_shipment(api: Api) -> None:
    r = await api.http.post("/v1/inbound", json=po())
    assert r.status_code == 201, r.text
    assert r.json()["inbound"]["available"] == 3 and r.json()["applied"] is True
    again = await api.http.post("/v1/inbound", json=po())
    assert again.status_code == 200 and again.json()["applied"] is False

    order_id = await api.submit(lines=[(SKU, 2), ("TEE-MERINO-M", 1)])
    state = await api.until(order_id, lambda s: bool(s.backorders), "the backorder's date")
    [b] = state.backorders
    assert (b.qty, b.inbound, f"{b.expected_at:%Y-%m-%d}") == (2, "PO-7", "2031-05-01")

    [listed] = (await api.http.get("/v1/inbound", params={"sku": SKU})).json()
    assert (listed["allocated"], listed["available"]) == (2, 1)
    view = (await api.http.get(f"/v1/inventory/{SKU}")).json()
    assert [(i["inbound"], i["qty"], i["available"]) for i in view["inbound"]] == [("PO-7", 3, 1)]

    late = await api.http.patch("/v1/inbound/PO-7", json={"expected_at": LATE})
    assert late.status_code == 200, late.text
    assert late.json()["told"] == [order_id]
    await api.until(
        order_id,
        lambda s: [f"{x.expected_at:%Y-%m-%d}" for x in s.backorders] == ["2031-05-20"],
        "the late date on the order",
    )

    got = await api.http.post("/v1/inbound/PO-7/receive")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["reserved_units"] == 2 and body["unallocated_received"] == 1
    assert body["told"] == [order_id] and body["inbound"]["status"] == "received"
    state = await api.until(
        order_id,
        lambda s: (
            not s.backorders
            and any(sl.sku == SKU and sl.qty == 2 for sh in s.shipments for sl in sh.lines)
        ),
        "the order routed the arrived units",
    )
    assert all(ln.backordered == 0 for ln in state.lines)
    assert await api.position("wh-dallas", SKU) == (3, 2)
    repeat = (await api.http.post("/v1/inbound/PO-7/receive", json={})).json()
    assert repeat["applied"] is False and await api.position("wh-dallas", SKU) == (3, 2)
    assert_problem(await api.http.post("/v1/inbound/PO-7/cancel"), 409, "received")


async def test_bad_inbound_requests_are_problems_that_change_nothing(api: Api) -> None:
    cases = [
        (po(node="nowhere"), 422, "nowhere"),
        (po(sku="NO-SUCH-SKU"), 422, "NO-SUCH-SKU"),
        (po(qty=0), 422, "qty"),
        (po(expected_at="2031-05-01T12:00:00"), 422, "timezone"),
        (po(kind="gift"), 422, "kind"),
    ]
    for body, status, needle in cases:
        assert_problem(await api.http.post("/v1/inbound", json=body), status, needle)
    assert (await api.http.get("/v1/inbound")).json() == []
    assert_problem(await api.http.post("/v1/inbound/NOPE/receive"), 404, "NOPE")
    assert_problem(await api.http.patch("/v1/inbound/NOPE", json={"expected_at": DUE}), 404)
    assert_problem(await api.http.post("/v1/inbound/NOPE/cancel"), 404)

    assert (await api.http.post("/v1/inbound", json=po())).status_code == 201
    assert_problem(await api.http.post("/v1/inbound", json=po(node="wh-reno")), 409, "node")
    too_many = await api.http.post("/v1/inbound/PO-7/receive", json={"qty": 4})
    assert_problem(too_many, 422, "3 units still due")
    assert_problem(
        await api.http.patch("/v1/inbound/PO-7", json={"expected_at": "soon"}), 422, "expected_at"
    )
    assert (await inbound.get_inbound(api.engine, "PO-7")).received == 0

    # Scopes: a read-only key lists but cannot announce or receive.
    reader = auth_headers(await new_key(api.engine, scopes=["orders:read"]))
    assert (await api.http.get("/v1/inbound", headers=reader)).status_code == 200
    assert_problem(await api.http.post("/v1/inbound", json=po(), headers=reader), 403)
    assert_problem(await api.http.post("/v1/inbound/PO-7/receive", headers=reader), 403)
    assert (await inbound.get_inbound(api.engine, "PO-7")).status == "open"


async def test_a_partner_announces_inbound_to_its_node_with_its_signature(api: Api) -> None:
    body = po(id="ASN-DAL-1")
    r = await api.signed("wh-dallas", "inbound", body)
    assert r.status_code == 201, r.text
    assert r.json()["inbound"]["source"] == "partner wh-dallas"
    later = await api.signed("wh-dallas", "inbound", {**body, "expected_at": LATE})
    assert later.status_code == 200 and later.json()["applied"] is True
    assert f"{(await inbound.get_inbound(api.engine, 'ASN-DAL-1')).expected_at:%d}" == "20"

    assert_problem(await api.signed("wh-reno", "inbound", po(id="ASN-X")), 403, "wh-dallas")
    bad = await api.signed("wh-dallas", "inbound", body, secret="not-the-secret")
    assert_problem(bad, 401)
    unsigned = await api.http.post("/v1/partners/wh-dallas/inbound", json=po(id="ASN-Y"))
    assert_problem(unsigned, 401)
    assert [i.id for i in await inbound.list_inbound(api.engine)] == ["ASN-DAL-1"]
