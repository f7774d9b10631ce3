"""POST/GET /v1/orders, cancel, inventory, health and the error format, end to end."""

from __future__ import annotations

import uuid

from temporalio.client import WorkflowExecutionStatus

from dom_workflows.order.models import OrderStatus, ShipmentStatus
from tests.support.api import Api, assert_problem, order_body


async def test_submit_starts_a_workflow_and_status_url_reads_its_state(api: Api) -> None:
    body = order_body(lines=[("BOOT-HIKE-9", 1), ("SOCK-WOOL-3PK", 2)])
    r = await api.http.post("/v1/orders", json=body)
    assert r.status_code == 202, r.text
    doc = r.json()
    oid = body["order_id"]
    assert (
        doc["order_id"] == oid and doc["workflow_id"] == f"order-{oid}" and doc["created"] is True
    )
    assert doc["status_url"] == f"http://dom.test/v1/orders/{oid}" == r.headers["location"]
    state = await api.instructed(oid)
    assert state.order_id == oid and state.shipments
    got = (await api.http.get(doc["status_url"])).json()
    assert got["workflow_id"] == f"order-{oid}" and got["lines"][0]["sku"] == "BOOT-HIKE-9"
    assert got["order_value"] == {"amount": "150.00", "currency": "USD"}  # Money stays a string


async def test_same_order_twice_is_one_workflow(api: Api) -> None:
    ext = uuid.uuid4().hex[:8]
    body = order_body(external_id=ext)
    assert (await api.http.post("/v1/orders", json=body)).status_code == 202
    again = await api.http.post("/v1/orders", json=body)
    assert again.status_code == 200 and again.json()["created"] is False
    # Same channel + external id under another order id: still the first order, no new workflow.
    other = await api.http.post("/v1/orders", json={**body, "order_id": f"OTHER-{ext}"})
    assert other.status_code == 200, other.text
    assert other.json()["order_id"] == body["order_id"]
    missing = await api.http.get(f"/v1/orders/OTHER-{ext}")
    assert_problem(missing, 404, f"OTHER-{ext}", "does not exist")


async def test_order_id_is_derived_from_channel_and_external_id(api: Api) -> None:
    ext = f"EXT-{uuid.uuid4().hex[:8]}"
    body = order_body(channel="marketplace", external_id=ext)
    del body["order_id"]
    r = await api.http.post("/v1/orders", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["order_id"] == f"marketplace-{ext}"
    r2 = await api.http.post("/v1/orders", json=body)
    assert r2.status_code == 200 and r2.json()["order_id"] == f"marketplace-{ext}"
    # External ids with characters an order id cannot hold get a stable hash, not a collision.
    weird = {**body, "external_id": f"#{ext} / x"}
    r3 = await api.http.post("/v1/orders", json=weird)
    r4 = await api.http.post("/v1/orders", json=weird)
    assert r3.status_code == 202 and r4.status_code == 200
    assert r3.json()["order_id"] == r4.json()["order_id"] != r.json()["order_id"]


async def test_bad_order_bodies_are_422_problems_and_start_nothing(api: Api) -> None:
    cases: list[tuple[bytes | None, object, tuple[str, ...]]] = [
        (b"{not json", None, ("not valid JSON",)),
        (b"", None, ("empty",)),
        (b"\xff\xfe", None, ("not valid JSON",)),
        (b"[" * 50_000, None, ("nested too deeply",)),
        (None, ["a list"], ("JSON object",)),
        (
            None,
            {k: v for k, v in order_body().items() if k != "customer"},
            ("customer", "Field required"),
        ),
        (
            None,
            {k: v for k, v in order_body().items() if k != "order_id"},
            ("order_id or external_id",),
        ),
        (None, order_body(order_id="bad id!"), ("order_id", "pattern")),
        (None, order_body(lines=[("BOOT-HIKE-9", 0)]), ("quantity must be at least 1",)),
        (None, order_body(lines=[("BOOT-HIKE-9", 10**9)]), ("exceeds the limit",)),
        (None, {**order_body(), "lines": []}, ("no lines",)),
        (None, {**order_body(), "delivery": "drone"}, ("delivery",)),
    ]
    for raw, doc, needles in cases:
        r = await (
            api.http.post("/v1/orders", content=raw, headers={"Content-Type": "application/json"})
            if raw is not None
            else api.http.post("/v1/orders", json=doc)
        )
        problem = assert_problem(r, 422, *needles)
        assert problem["instance"] == "/v1/orders"
        if isinstance(doc, dict) and doc.get("order_id"):
            assert_problem(await api.http.get(f"/v1/orders/{doc['order_id']}"), 404)
    # Money never takes a float: 49.99 as a JSON number is refused with the reason.
    body = order_body()
    body["lines"][0]["unit_price"]["amount"] = 49.99
    r = await api.http.post("/v1/orders", json=body)
    doc = assert_problem(r, 422, "floats")
    assert any("unit_price" in e["loc"] for e in doc["errors"])
    for bad in (body, order_body(lines=[("BOOT-HIKE-9", 0)])):
        assert_problem(await api.http.get(f"/v1/orders/{bad['order_id']}"), 404)  # never started


async def test_unknown_order_is_404(api: Api) -> None:
    assert_problem(await api.http.get("/v1/orders/NOPE-123"), 404, "NOPE-123", "does not exist")
    assert_problem(await api.http.get("/v1/orders/%20bad%21id"), 404, "does not exist")
    assert_problem(await api.http.get("/v1/orders/" + "x" * 500), 404, "not a valid order id")
    assert_problem(await api.http.post("/v1/orders/NOPE-123/cancel"), 404, "does not exist")


async def test_cancel_whole_order_then_refusals_carry_the_validator_reason(api: Api) -> None:
    oid = await api.submit(lines=[("BOOT-HIKE-9", 2)])
    await api.instructed(oid)
    before = (await api.http.get("/v1/inventory/BOOT-HIKE-9")).json()["total_reserved"]
    # A line the order does not have: the Update's validator says so, 409, nothing changes.
    r = await api.http.post(f"/v1/orders/{oid}/cancel", json={"lines": [{"line_id": "9"}]})
    assert_problem(r, 409, "9")
    assert_problem(
        await api.http.post(f"/v1/orders/{oid}/cancel", json={"lines": "all"}), 422, "lines"
    )
    assert_problem(
        await api.http.post(
            f"/v1/orders/{oid}/cancel", content=b"{", headers={"Content-Type": "application/json"}
        ),
        422,
        "not valid JSON",
    )
    r = await api.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "changed mind"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["released_units"] == 2 and result["order_status"] == OrderStatus.CANCELLED
    after = (await api.http.get("/v1/inventory/BOOT-HIKE-9")).json()["total_reserved"]
    assert after == before - 2
    again = await api.http.post(f"/v1/orders/{oid}/cancel")
    assert_problem(again, 409, "already cancelled")


async def test_cancel_some_units_of_a_line(api: Api) -> None:
    oid = await api.submit(lines=[("SOCK-WOOL-3PK", 3)])
    await api.instructed(oid)
    r = await api.http.post(
        f"/v1/orders/{oid}/cancel",
        json={"lines": [{"line_id": "1", "qty": 1}], "reason": "too many"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["cancelled"] == [{"line_id": "1", "sku": "SOCK-WOOL-3PK", "qty": 1}]
    state = await api.state(oid)
    assert state.lines[0].cancelled == 1 and state.status != OrderStatus.CANCELLED
    assert any(s.status == ShipmentStatus.REQUESTED for s in state.shipments)


async def test_cancel_of_a_finished_workflow_is_409(api: Api) -> None:
    oid = await api.submit()
    await api.instructed(oid)
    assert (await api.http.post(f"/v1/orders/{oid}/cancel")).status_code == 200
    handle = api.deps.dom.handle(oid)
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert_problem(await api.http.post(f"/v1/orders/{oid}/cancel"), 409, "already cancelled")


async def test_inventory_atp_per_node_and_total(api: Api) -> None:
    r = await api.http.get("/v1/inventory/BOOT-HIKE-9")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["sku"] == "BOOT-HIKE-9" and len(view["nodes"]) > 1
    assert view["total_atp"] == sum(n["atp"] for n in view["nodes"])
    for n in view["nodes"]:
        assert n["atp"] == max(0, n["on_hand"] - n["reserved"] - n["safety_stock"])
    oid = await api.submit(lines=[("BOOT-HIKE-9", 3)])
    await api.instructed(oid)
    later = (await api.http.get("/v1/inventory/BOOT-HIKE-9")).json()
    assert later["total_reserved"] == view["total_reserved"] + 3
    assert later["total_atp"] == view["total_atp"] - 3
    assert_problem(await api.http.get("/v1/inventory/NO-SUCH-SKU"), 404, "NO-SUCH-SKU")


async def test_health_routes_and_methods(api: Api) -> None:
    r = await api.http.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok", "temporal": "ok"}
    assert_problem(await api.http.get("/v1/nothing-here"), 404, "no endpoint")
    assert_problem(await api.http.delete("/v1/orders"), 405, "DELETE")
    spec = (await api.http.get("/openapi.json")).json()
    for path in (
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/orders/{order_id}/cancel",
        "/v1/inventory/{sku}",
        "/v1/partners/{partner_id}/events",
        "/v1/partners/{partner_id}/inventory",
        "/v1/channels/shopify/orders",
        "/healthz",
    ):
        assert path in spec["paths"], path
    assert (await api.http.get("/docs")).status_code == 200


async def test_an_order_read_carries_where_it_goes_who_bought_it_and_its_money(api: Api) -> None:
    body = order_body(
        external_id="EXT-77",
        tags=["gift"],
        customer={"id": "C-9", "tier": "vip", "email": "ann@example.com"},
        shipping={"amount": "5.00", "currency": "USD"},
        tax_total={"amount": "4.40", "currency": "USD"},
        grand_total={"amount": "59.40", "currency": "USD"},
    )
    assert (await api.http.post("/v1/orders", json=body)).status_code == 202
    await api.instructed(body["order_id"])
    got = (await api.http.get(f"/v1/orders/{body['order_id']}")).json()
    assert got["external_id"] == "EXT-77" and got["tags"] == ["gift"]
    assert got["customer_email"] == "ann@example.com" and got["payment_mode"] == "dom"
    assert got["ship_to"]["zip"] == "10118" and got["ship_to"]["city"] == "New York"
    assert got["totals"] == {
        "goods": {"amount": "50.00", "currency": "USD"},
        "discounts": None,
        "tax": {"amount": "4.40", "currency": "USD"},
        "shipping": {"amount": "5.00", "currency": "USD"},
        "grand_total": {"amount": "59.40", "currency": "USD"},
    }
