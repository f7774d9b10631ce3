"""Shopify `orders/create` -> OrderRequest, on Shopify's documented sample payload."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dom_workflows.channels import shopify

SAMPLE_PATH = Path(__file__).parent / "fixtures" / "shopify_orders_create.json"


def sample() -> dict[str, Any]:
    data: dict[str, Any] = shopify.parse_body(SAMPLE_PATH.read_bytes())
    return data


def test_documented_sample_maps_every_line_address_and_money_exactly() -> None:
    mapped = shopify.map_order(sample())
    order = mapped.order
    assert order is not None and mapped.skipped == []
    assert order.order_id == "shopify-820982911946154508"
    assert (order.channel, order.external_id) == ("shopify", "820982911946154508")
    assert [(ln.line_id, ln.sku, ln.qty) for ln in order.lines] == [
        ("487817672276298554", "SKU2006-001", 1),
        ("976318377106520349", "SKU2006-020", 1),
        ("315789986012684393", "SKU2006-035", 1),
    ]
    assert [ln.unit_price.amount for ln in order.lines] == [
        Decimal("89.99"),
        Decimal("159.99"),
        Decimal("119.99"),
    ]
    assert order.value().amount == Decimal("369.97")  # total_line_items_price, to the cent
    to = order.ship_to
    assert to is not None
    assert (to.name, to.line1, to.city, to.state, to.zip, to.country) == (
        "Steve Shipper",
        "123 Shipping Street",
        "Shippington",
        "KY",
        "40003",
        "US",
    )
    assert to.lat is None and to.lon is None  # Shopify sent nulls: the ZIP is geocoded later
    assert order.service_level == "ground"  # "Generic Shipping"
    assert order.customer.id == "shopify-115310627314723954"
    assert order.customer.tier == "standard"  # the sample customer has no tags
    assert order.customer.email == "john@example.com"
    assert order.tags == ["shopify", "tag1", "tag2"]
    assert (
        order.placed_at is not None and order.placed_at.isoformat() == "2021-12-31T19:00:00-05:00"
    )


def test_prices_never_pass_through_float() -> None:
    raw = SAMPLE_PATH.read_text().replace('"price": "89.99"', '"price": 89.99', 1)
    data = shopify.parse_body(raw.encode())
    del data["line_items"][0]["price_set"]
    order = shopify.map_order(data).order
    assert order is not None
    amount = order.lines[0].unit_price.amount
    assert isinstance(amount, Decimal) and str(amount) == "89.99"


def test_gift_cards_digital_items_and_items_without_sku_are_reported_not_dropped() -> None:
    data = sample()
    items = data["line_items"]
    items[0]["sku"] = None  # physical, but nothing to source it by
    items[1]["gift_card"] = True
    items[1]["requires_shipping"] = False
    items[2]["requires_shipping"] = False
    extra = copy.deepcopy(items[2])
    extra.update(id=42, sku="BOOT-HIKE-9", requires_shipping=True, quantity=2)
    items.append(extra)
    mapped = shopify.map_order(data)
    assert mapped.order is not None
    assert [(ln.line_id, ln.sku, ln.qty) for ln in mapped.order.lines] == [("42", "BOOT-HIKE-9", 2)]
    assert [(s.line_item_id, s.reason) for s in mapped.skipped] == [
        ("487817672276298554", "no_sku"),
        ("976318377106520349", "gift_card"),
        ("315789986012684393", "no_shipping"),
    ]
    assert all(s.detail for s in mapped.skipped)
    assert "needs-review" in mapped.order.tags
    assert "shopify-skipped:976318377106520349:gift_card" in mapped.order.tags


def test_an_order_of_only_gift_cards_needs_no_order_workflow() -> None:
    data = sample()
    for item in data["line_items"]:
        item["gift_card"] = True
    mapped = shopify.map_order(data)
    assert mapped.order is None and {s.reason for s in mapped.skipped} == {"gift_card"}


def test_nothing_sourceable_or_no_address_is_unmappable_with_the_reason() -> None:
    data = sample()
    for item in data["line_items"]:
        item["sku"] = ""
    with pytest.raises(shopify.UnmappableShopifyOrder, match="no line item can be sourced"):
        shopify.map_order(data)
    data = sample()
    data["shipping_address"] = None
    with pytest.raises(shopify.UnmappableShopifyOrder, match="no shipping_address"):
        shopify.map_order(data)


@pytest.mark.parametrize(
    ("title", "code", "level"),
    [
        ("Generic Shipping", None, "ground"),
        ("Standard", "STANDARD", "ground"),
        ("Express", None, "express"),
        ("UPS 2nd Day Air", "2 Day", "express"),
        ("Priority Mail", None, "express"),
        ("FedEx Priority Overnight", None, "overnight"),
        ("Next Day Air", None, "overnight"),
    ],
)
def test_shipping_lines_choose_the_service_level(title: str, code: str | None, level: str) -> None:
    data = sample()
    data["shipping_lines"][0].update(title=title, code=code)
    order = shopify.map_order(data).order
    assert order is not None and order.service_level == level


def test_no_shipping_lines_is_ground() -> None:
    data = sample()
    data["shipping_lines"] = []
    order = shopify.map_order(data).order
    assert order is not None and order.service_level == "ground"


@pytest.mark.parametrize(
    ("tags", "tier"),
    [("", "standard"), ("VIP, newsletter", "vip"), ("wholesale", "standard"), (" vip ", "vip")],
)
def test_customer_tags_choose_the_tier(tags: str, tier: str) -> None:
    data = sample()
    data["customer"]["tags"] = tags
    order = shopify.map_order(data).order
    assert order is not None and order.customer.tier == tier


def test_coordinates_are_used_when_shopify_has_them() -> None:
    data = shopify.parse_body(
        SAMPLE_PATH.read_text()
        .replace('"latitude": null', '"latitude": 40.7484', 2)
        .replace('"longitude": null', '"longitude": -73.9857', 2)
        .encode()
    )
    order = shopify.map_order(data).order
    assert order is not None and order.ship_to is not None
    assert (order.ship_to.lat, order.ship_to.lon) == (40.7484, -73.9857)


def test_guest_checkout_without_customer() -> None:
    data = sample()
    data["customer"] = None
    order = shopify.map_order(data).order
    assert order is not None
    assert (order.customer.id, order.customer.email, order.customer.tier) == (
        "shopify-guest",
        "jon@example.com",
        "standard",
    )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("id"),
        lambda d: d.update(line_items="none"),
        lambda d: d["line_items"][0].update(quantity="two"),
        lambda d: d["line_items"][0].update(price="free"),
    ],
)
def test_payloads_that_are_not_shopify_orders_raise_validation_errors(mutate: Any) -> None:
    data = sample()
    mutate(data)
    with pytest.raises(ValidationError):
        shopify.map_order(data)


def test_hmac_is_base64_sha256_of_the_raw_body() -> None:
    body = SAMPLE_PATH.read_bytes()
    good = shopify.sign("demo-shopify-webhook-secret", body)
    shopify.verify("demo-shopify-webhook-secret", body, good)
    for bad in (None, "", good[:-2] + "==", shopify.sign("other", body)):
        with pytest.raises(shopify.BadShopifySignature):
            shopify.verify("demo-shopify-webhook-secret", body, bad)
    with pytest.raises(shopify.BadShopifySignature):
        shopify.verify("demo-shopify-webhook-secret", body + b" ", good)
    # Same JSON, different bytes: the MAC is over the raw body, not the parsed document.
    with pytest.raises(shopify.BadShopifySignature):
        shopify.verify("demo-shopify-webhook-secret", json.dumps(json.loads(body)).encode(), good)
