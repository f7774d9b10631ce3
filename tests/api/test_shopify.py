"""Shopify's sample `orders/create` webhook, signed like Shopify signs it, becomes a running order."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowExecutionStatus

from dom_workflows.channels import shopify
from tests.support.api import Api, assert_problem

SAMPLE = Path(__file__).parents[1] / "channels" / "fixtures" / "shopify_orders_create.json"
SHOP = "demo-outfitters.myshopify.com"
DEMO_SKUS = ["BOOT-HIKE-9", "SOCK-WOOL-3PK", "BOTTLE-1L"]


def demo_payload() -> dict[str, Any]:
    """The documented sample with a fresh order id and SKUs from the demo catalog."""
    data: dict[str, Any] = json.loads(SAMPLE.read_text())
    data["id"] = random.randint(10**17, 10**18)
    for item, sku in zip(data["line_items"], DEMO_SKUS, strict=True):
        item["sku"] = sku
    return data


async def post(
    api: Api,
    data: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    webhook_id: str | None = None,
    shop: str = SHOP,
    topic: str = "orders/create",
    hmac: str | None = None,
) -> httpx.Response:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Hmac-Sha256": hmac or shopify.sign(secret or api.secrets.shopify[SHOP], raw),
    }
    return await api.http.post("/v1/channels/shopify/orders", content=raw, headers=headers)


async def test_signed_sample_webhook_becomes_a_running_order_workflow(api: Api) -> None:
    data = demo_payload()
    webhook_id = str(uuid.uuid4())
    r = await post(api, data, webhook_id=webhook_id)
    assert r.status_code == 202, r.text
    doc = r.json()
    oid = f"shopify-{data['id']}"
    assert doc["status"] == "created" and doc["order_id"] == oid and doc["skipped"] == []
    assert doc["workflow_id"] == f"order-{oid}"
    state = await api.instructed(oid)
    assert state.channel == "shopify" and [ln.sku for ln in state.lines] == DEMO_SKUS
    # The goods after Shopify's 20.00 discount (total_price 359.97 less 10.00 shipping).
    assert str(state.order_value.amount) == "349.97"
    # Shopify took the money: the DOM records it and never charges the order again.
    assert state.payment is not None and state.payment.status == "paid_at_channel"
    assert str(state.payment.captured.amount) == "359.97" and state.payment.authorization_id is None
    assert (await api.deps.dom.handle(oid).describe()).status == WorkflowExecutionStatus.RUNNING
    # Shopify redelivers the same webhook: 200 and the same order.
    again = await post(api, data, webhook_id=webhook_id)
    assert again.status_code == 200 and again.json()["order_id"] == oid
    # A different delivery of the same Shopify order (new webhook id): still the same order.
    other = await post(api, data)
    assert other.status_code == 200, other.text
    assert other.json()["status"] == "existing" and other.json()["order_id"] == oid
    assert len((await api.state(oid)).routes) == len(state.routes)


async def test_wrong_or_missing_hmac_is_401_and_starts_nothing(api: Api) -> None:
    data = demo_payload()
    oid = f"shopify-{data['id']}"
    assert_problem(await post(api, data, secret="not-the-shop-secret"), 401, "does not match")
    assert_problem(await post(api, data, hmac="bm90IGEgbWFj"), 401, "does not match")
    assert_problem(await post(api, data, shop="evil.myshopify.com"), 401, "evil.myshopify.com")
    raw = json.dumps(data).encode()
    no_hmac = await api.http.post(
        "/v1/channels/shopify/orders",
        content=raw,
        headers={"X-Shopify-Shop-Domain": SHOP, "Content-Type": "application/json"},
    )
    assert_problem(no_hmac, 401, "required")
    no_shop = await api.http.post("/v1/channels/shopify/orders", content=raw)
    assert_problem(no_shop, 401, "X-Shopify-Shop-Domain")
    assert_problem(await api.http.get(f"/v1/orders/{oid}"), 404)


async def test_bad_payloads_with_a_valid_hmac_are_422(api: Api) -> None:
    assert_problem(await post(api, b"{not json"), 422, "not valid JSON")
    assert_problem(await post(api, {"hello": "world"}), 422, "id", "Field required")
    assert_problem(await post(api, demo_payload(), topic="orders/paid"), 422, "orders/paid")
    bad_qty = demo_payload()
    bad_qty["line_items"][0]["quantity"] = 10**7
    assert_problem(await post(api, bad_qty), 422, "exceeds the limit")


async def test_gift_card_only_order_is_acknowledged_without_a_workflow(api: Api) -> None:
    data = demo_payload()
    for item in data["line_items"]:
        item["gift_card"] = True
    webhook_id = str(uuid.uuid4())
    r = await post(api, data, webhook_id=webhook_id)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "nothing_to_fulfil" and len(r.json()["skipped"]) == 3
    assert_problem(await api.http.get(f"/v1/orders/shopify-{data['id']}"), 404)
    again = await post(api, data, webhook_id=webhook_id)
    assert again.status_code == 200 and again.json()["status"] == "nothing_to_fulfil"


async def test_skipped_lines_are_in_the_answer_and_on_the_order(api: Api) -> None:
    data = demo_payload()
    data["line_items"][2]["sku"] = None
    r = await post(api, data)
    assert r.status_code == 202, r.text
    [skipped] = r.json()["skipped"]
    assert skipped["reason"] == "no_sku" and skipped["title"] == "Coffee table"
    state = await api.instructed(r.json()["order_id"])
    assert [ln.sku for ln in state.lines] == DEMO_SKUS[:2]


async def test_an_authentic_order_that_cannot_be_fulfilled_is_taken_and_held_for_review(
    api: Api,
) -> None:
    """Shopify has charged it: a 200 (never a 422 Shopify would retry), an order on a review
    hold with the reason, nothing reserved; ops can cancel it."""
    unknown = demo_payload()
    unknown["line_items"][0]["sku"] = "NO-SUCH-SKU"
    no_address = demo_payload()
    no_address["shipping_address"] = None
    no_sku = demo_payload()
    for item in no_sku["line_items"]:
        item["sku"] = None
    for data, why in [
        (unknown, "unknown SKU 'NO-SUCH-SKU'"),
        (no_address, "ship_to address is missing"),
        (no_sku, "the order has no lines"),
    ]:
        r = await post(api, data)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["status"] == "on_hold" and any(why in p for p in doc["problems"]), doc
        state = await api.until(doc["order_id"], lambda s: bool(s.holds), "the review hold")
        [hold] = state.holds
        assert hold.kind == "review" and why in hold.reason and state.shipments == []
        assert state.status == "on_hold"
    # Ops cancel the first: it ends cancelled, having reserved nothing.
    oid = f"shopify-{unknown['id']}"
    assert (
        await api.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "bad sku"})
    ).status_code == 200
    state = await api.until(oid, lambda s: s.status == "cancelled", "cancelled")
    assert state.routes == []
