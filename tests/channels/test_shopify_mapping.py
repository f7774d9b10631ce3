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
from dom_workflows.money import Money
from dom_workflows.order.models import OrderRequest

SAMPLE_PATH = Path(__file__).parent / "fixtures" / "shopify_orders_create.json"
# The sample with a line-level fixed discount, a 10% code across the order, 6% tax lines and a
# second unit on one line (see fixtures/README.md for how each figure was computed).
DISCOUNTED_PATH = Path(__file__).parent / "fixtures" / "shopify_orders_create_discounts.json"


def sample(path: Path = SAMPLE_PATH) -> dict[str, Any]:
    data: dict[str, Any] = shopify.parse_body(path.read_bytes())
    return data


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


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
    # Shopify's sample charges 20.00 total_discounts that no line carries: spread pro rata.
    assert [ln.discount for ln in order.lines] == [usd("4.86"), usd("8.65"), usd("6.49")]
    assert [ln.net() for ln in order.lines] == [usd("85.13"), usd("151.34"), usd("113.50")]
    assert [ln.tax for ln in order.lines] == [usd("0.00")] * 3
    assert order.value() == usd("349.97")  # the goods after discounts, plus tax
    assert (order.shipping, order.tax_total, order.discount_total) == (
        usd("10.00"),
        usd("0.00"),
        usd("20.00"),
    )
    assert order.grand_total == usd("359.97") == order.value() + usd("10.00")  # total_price
    assert (order.payment_mode, order.paid) == ("channel", usd("359.97"))
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


def test_nothing_sourceable_or_no_address_still_becomes_an_order_to_review() -> None:
    """Shopify has charged the customer: the DOM never refuses such an order; it is mapped with
    what it has and the workflow puts it on a review hold with the reason."""
    data = sample()
    for item in data["line_items"]:
        item["sku"] = ""
    mapped = shopify.map_order(data)
    assert mapped.order is not None and mapped.order.lines == []
    assert mapped.order.hold_if_invalid is True
    assert {s.reason for s in mapped.skipped} == {"no_sku"}
    data = sample()
    data["shipping_address"] = None
    mapped = shopify.map_order(data)
    assert mapped.order is not None and mapped.order.ship_to is None and mapped.order.lines


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


def test_coordinates_are_used_when_shopify_has_them_and_no_zip() -> None:
    data = shopify.parse_body(
        SAMPLE_PATH.read_text()
        .replace('"latitude": null', '"latitude": 40.7484', 2)
        .replace('"longitude": null', '"longitude": -73.9857', 2)
        .replace('"zip": "40003"', '"zip": null', 2)
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


# ----------------------------------------------------------------- money as Shopify charged it
def grand_total(order: OrderRequest) -> Money:
    """The lines' net prices + shipping + all tax: what the customer was charged."""
    nets = sum((ln.net() for ln in order.lines), start=usd("0"))
    assert order.shipping is not None and order.tax_total is not None
    return nets + order.shipping + order.tax_total


def test_percentage_and_line_discounts_tax_and_shipping_add_up_to_total_price() -> None:
    data = sample(DISCOUNTED_PATH)
    order = shopify.map_order(data).order
    assert order is not None
    assert [(ln.qty, ln.unit_price) for ln in order.lines] == [
        (1, usd("89.99")),
        (1, usd("159.99")),
        (2, usd("119.99")),
    ]
    # discount_allocations: the lounger has 15.00 (its own promo) + 14.50 (its part of 10%).
    assert [ln.discount for ln in order.lines] == [usd("9.00"), usd("29.50"), usd("24.00")]
    assert [ln.net() for ln in order.lines] == [usd("80.99"), usd("130.49"), usd("215.98")]
    assert [ln.tax for ln in order.lines] == [usd("4.86"), usd("7.83"), usd("12.96")]
    assert [ln.total() for ln in order.lines] == [usd("85.85"), usd("138.32"), usd("228.94")]
    assert order.value() == usd("453.11")
    assert order.shipping == usd("10.00")
    assert order.tax_total == usd(data["total_tax"])  # 26.25: lines 25.65 + shipping 0.60
    assert order.discount_total == usd(data["total_discounts"])
    total_price = usd(data["total_price"])
    assert order.grand_total == grand_total(order) == total_price == usd("463.71")
    assert order.paid == total_price and order.payment_mode == "channel"
    assert "needs-review" not in order.tags  # everything adds up
    # A unit of the two-unit line is worth half the line's net price with tax.
    assert order.lines[2].value_of(1) == usd("114.47")


def test_the_documented_sample_adds_up_to_total_price_too() -> None:
    data = sample()
    order = shopify.map_order(data).order
    assert order is not None
    assert order.grand_total == grand_total(order) == usd(data["total_price"])
    assert sum((ln.discount or usd("0") for ln in order.lines), start=usd("0")) == usd(
        data["total_discounts"]
    )


def test_a_single_percentage_discount_is_what_the_customer_pays() -> None:
    """One 199.00 item with 9% off: the order is worth 181.09, not the list price."""
    data = sample(DISCOUNTED_PATH)
    item = data["line_items"][0]
    item.update(price="199.00", price_set=None, tax_lines=[])
    item["discount_allocations"] = [{"amount": "17.91", "discount_application_index": 1}]
    data["line_items"] = [item]
    data["discount_applications"] = [
        {**data["discount_applications"][1], "value": "9.0", "code": "NINE"}
    ]
    data["shipping_lines"][0].update(price="0.00", price_set=None, tax_lines=[])
    data.update(
        total_discounts="17.91",
        total_discounts_set=None,
        total_tax="0.00",
        total_tax_set=None,
        total_price="181.09",
        total_price_set=None,
    )
    order = shopify.map_order(data).order
    assert order is not None
    assert order.value() == usd("181.09") == order.grand_total == order.paid
    assert "needs-review" not in order.tags


def test_taxes_included_in_prices_are_not_added_again() -> None:
    data = sample(DISCOUNTED_PATH)
    data["taxes_included"] = True
    # Tax-inclusive prices: total_price is the lines after discounts plus shipping.
    data.update(total_price="437.46", total_price_set=None)
    order = shopify.map_order(data).order
    assert order is not None
    assert order.lines[0].tax == usd("4.86") and order.lines[0].total() == usd("80.99")
    assert order.value() == usd("427.46") and order.grand_total == usd("437.46")
    assert "needs-review" not in order.tags


def test_a_total_that_does_not_add_up_is_taken_but_flagged_for_review() -> None:
    data = sample(DISCOUNTED_PATH)
    data.update(total_price="500.00", total_price_set=None)
    order = shopify.map_order(data).order
    assert order is not None and order.grand_total == usd("500.00")
    assert "needs-review" in order.tags and "shopify-total-mismatch:463.71" in order.tags


def test_payment_mode_dom_records_no_payment_taken_at_the_channel() -> None:
    order = shopify.map_order(sample(DISCOUNTED_PATH), payment_mode="dom").order
    assert order is not None and order.payment_mode == "dom" and order.paid is None


@pytest.mark.parametrize(
    ("amount", "weights", "parts"),
    [
        ("20.00", ["89.99", "159.99", "119.99"], ["4.86", "8.65", "6.49"]),
        ("0.01", ["1", "1", "1"], ["0.01", "0.00", "0.00"]),
        ("0.02", ["1", "1", "1"], ["0.01", "0.01", "0.00"]),
        ("10.00", ["0", "5"], ["0.00", "10.00"]),
        ("5.00", ["0", "0"], ["0.00", "0.00"]),
    ],
)
def test_allocate_splits_to_the_cent_and_adds_up(
    amount: str, weights: list[str], parts: list[str]
) -> None:
    got = shopify.allocate(Decimal(amount), [Decimal(w) for w in weights])
    assert got == [Decimal(p) for p in parts]
    if any(Decimal(w) for w in weights):
        assert sum(got) == Decimal(amount)


# ----------------------------------------------------------------- ZIP versus coordinates
def test_the_zip_wins_over_coordinates_that_disagree() -> None:
    # The variant carries Ottawa's coordinates for Kentucky's 40003 (as Shopify's data can).
    data = sample(DISCOUNTED_PATH)
    assert data["shipping_address"]["latitude"] is not None
    order = shopify.map_order(data).order
    assert order is not None and order.ship_to is not None
    assert order.ship_to.zip == "40003"
    assert order.ship_to.lat is None and order.ship_to.lon is None  # geocoded from the ZIP


def test_coordinates_are_kept_when_the_zip_cannot_be_geocoded_or_is_missing() -> None:
    for zip_code in ("00000", None):
        data = sample(DISCOUNTED_PATH)
        data["shipping_address"]["zip"] = zip_code
        order = shopify.map_order(data).order
        assert order is not None and order.ship_to is not None
        assert (order.ship_to.lat, order.ship_to.lon) == (45.4215, -75.6972)
