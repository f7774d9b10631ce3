"""Shopify `orders/create` webhooks -> OrderRequest.

Shopify signs each delivery with `X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw body
under the shop's webhook secret. The body is parsed with `parse_float=Decimal`, so prices never
pass through float.

Line items the DOM cannot or should not fulfil are never dropped silently: each becomes a
`SkippedLine` with a reason code, returned to the caller and recorded on the order as a tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.common.models import Address, Customer
from dom_workflows.money import Money
from dom_workflows.order.models import OrderLine, OrderRequest

CHANNEL = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
SHOP_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TOPIC_HEADER = "X-Shopify-Topic"
ORDERS_CREATE = "orders/create"

# Customer tags (case-insensitive) that put a customer in a tier the routing policy knows.
TIER_TAGS: dict[str, str] = {"vip": "vip"}
# Shipping-line title/code keywords -> service level, checked in this order (fastest first), so
# "Express Overnight" is overnight. Anything else, e.g. Shopify's "Generic Shipping", is ground.
SERVICE_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("overnight", ("overnight", "next day", "next-day", "nextday", "1 day", "one day")),
    ("express", ("express", "expedited", "2 day", "2-day", "two day", "two-day", "priority")),
]

SkipReason = Literal["gift_card", "no_shipping", "no_sku", "no_quantity"]


class BadShopifySignature(Exception):
    """The webhook's HMAC is missing or does not match the body."""


class UnmappableShopifyOrder(ValueError):
    """The payload is a well-formed Shopify order that still cannot become a DOM order."""


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(secret: str, body: bytes, signature: str | None) -> None:
    if not signature:
        raise BadShopifySignature(f"{HMAC_HEADER} header is required")
    if not hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode()):
        raise BadShopifySignature(f"{HMAC_HEADER} does not match the body for this shop's secret")


def parse_body(body: bytes) -> Any:
    """JSON with decimals kept exact. Raises ValueError for anything that is not JSON."""
    try:
        return json.loads(body, parse_float=Decimal)
    except RecursionError:  # pathological nesting is bad input, not a server error
        raise ValueError("JSON nested too deeply") from None


# ----------------------------------------------------------------- the parts of the payload we read
class _Lenient(BaseModel):
    # Shopify adds fields in every API version; unknown ones are ignored, never an error.
    model_config = ConfigDict(extra="ignore")


class ShopMoney(_Lenient):
    amount: Decimal
    currency_code: str


class PriceSet(_Lenient):
    shop_money: ShopMoney


class ShopifyLineItem(_Lenient):
    id: int
    title: str = ""
    name: str = ""
    sku: str | None = None
    variant_id: int | None = None
    quantity: int
    price: Decimal
    price_set: PriceSet | None = None
    requires_shipping: bool = True
    gift_card: bool = False


class ShopifyAddress(_Lenient):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


class ShopifyShippingLine(_Lenient):
    title: str | None = None
    code: str | None = None


class ShopifyCustomer(_Lenient):
    id: int | None = None
    email: str | None = None
    tags: str | None = None


class ShopifyOrder(_Lenient):
    id: int
    name: str | None = None
    email: str | None = None
    currency: str = "USD"
    created_at: datetime | None = None
    tags: str | None = None
    customer: ShopifyCustomer | None = None
    line_items: list[ShopifyLineItem] = Field(default_factory=list)
    shipping_address: ShopifyAddress | None = None
    shipping_lines: list[ShopifyShippingLine] = Field(default_factory=list)


# ----------------------------------------------------------------- mapping
class SkippedLine(BaseModel):
    line_item_id: str
    title: str
    quantity: int
    reason: SkipReason
    detail: str


class MappedOrder(BaseModel):
    order: OrderRequest | None  # None: nothing in the order needs the DOM
    skipped: list[SkippedLine]


def order_id_for(shopify_order_id: int | str) -> str:
    return f"{CHANNEL}-{shopify_order_id}"


def _split_tags(tags: str | None) -> list[str]:
    return [t.strip() for t in (tags or "").split(",") if t.strip()]


def customer_tier(customer: ShopifyCustomer | None) -> str:
    for tag in _split_tags(customer.tags if customer else None):
        if tag.lower() in TIER_TAGS:
            return TIER_TAGS[tag.lower()]
    return "standard"


def service_level(lines: list[ShopifyShippingLine]) -> str:
    text = " ".join(f"{ln.title or ''} {ln.code or ''}" for ln in lines).lower()
    for level, words in SERVICE_KEYWORDS:
        if any(w in text for w in words):
            return level
    return "ground"


def _skip(item: ShopifyLineItem) -> tuple[SkipReason, str] | None:
    if item.gift_card:
        return "gift_card", "gift cards are issued by Shopify, not shipped from a node"
    if not item.requires_shipping:
        return "no_shipping", "the item needs no shipping (digital or service)"
    if item.quantity <= 0:
        return "no_quantity", f"quantity is {item.quantity}: nothing to fulfil"
    if not (item.sku or "").strip():
        return "no_sku", (
            "the item needs shipping but has no SKU, so no node can source it; "
            "the order is tagged needs-review"
        )
    return None


def _unit_price(item: ShopifyLineItem, currency: str) -> Money:
    # price_set.shop_money is the shop's own currency, which is what the ledger prices in.
    if item.price_set is not None:
        shop = item.price_set.shop_money
        return Money(amount=shop.amount, currency=shop.currency_code)
    return Money(amount=item.price, currency=currency)


def _address(a: ShopifyAddress | None) -> Address | None:
    if a is None:
        return None
    name = a.name or " ".join(p for p in (a.first_name, a.last_name) if p)
    has_point = a.latitude is not None and a.longitude is not None
    return Address(
        name=name,
        line1=a.address1 or "",
        city=a.city or "",
        state=a.province_code,
        zip=a.zip,
        country=a.country_code or "US",
        # Coordinates, when Shopify has them, are used as-is; otherwise the ZIP is geocoded.
        lat=float(a.latitude) if has_point and a.latitude is not None else None,
        lon=float(a.longitude) if has_point and a.longitude is not None else None,
    )


def map_order(payload: Any) -> MappedOrder:
    """Map a Shopify `orders/create` payload. Raises pydantic.ValidationError for a payload that
    is not a Shopify order and UnmappableShopifyOrder for one the DOM cannot take."""
    so = ShopifyOrder.model_validate(payload)
    lines: list[OrderLine] = []
    skipped: list[SkippedLine] = []
    for item in so.line_items:
        skip = _skip(item)
        if skip is not None:
            skipped.append(
                SkippedLine(
                    line_item_id=str(item.id),
                    title=item.name or item.title,
                    quantity=item.quantity,
                    reason=skip[0],
                    detail=skip[1],
                )
            )
            continue
        lines.append(
            OrderLine(
                line_id=str(item.id),
                sku=(item.sku or "").strip(),
                qty=item.quantity,
                unit_price=_unit_price(item, so.currency),
            )
        )
    if not lines:
        unsourceable = [s for s in skipped if s.reason == "no_sku"]
        if unsourceable:
            raise UnmappableShopifyOrder(
                f"Shopify order {so.id}: no line item can be sourced; "
                + "; ".join(
                    f"line item {s.line_item_id} ({s.title}): {s.detail}" for s in unsourceable
                )
            )
        return MappedOrder(order=None, skipped=skipped)
    ship_to = _address(so.shipping_address)
    if ship_to is None:
        raise UnmappableShopifyOrder(
            f"Shopify order {so.id} has {len(lines)} line items to ship but no shipping_address"
        )
    tags = ["shopify", *_split_tags(so.tags)]
    if any(s.reason == "no_sku" for s in skipped):
        tags.append("needs-review")
    tags += [f"shopify-skipped:{s.line_item_id}:{s.reason}" for s in skipped]
    customer = so.customer
    order = OrderRequest(
        order_id=order_id_for(so.id),
        channel=CHANNEL,
        external_id=str(so.id),
        customer=Customer(
            id=f"shopify-{customer.id}" if customer and customer.id else "shopify-guest",
            tier=customer_tier(customer),
            email=(customer.email if customer else None) or so.email,
        ),
        lines=lines,
        ship_to=ship_to,
        service_level=service_level(so.shipping_lines),
        tags=tags,
        placed_at=so.created_at,
    )
    return MappedOrder(order=order, skipped=skipped)
