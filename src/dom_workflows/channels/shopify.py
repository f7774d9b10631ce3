"""Shopify `orders/create` webhooks -> OrderRequest.

Shopify signs each delivery with `X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw body
under the shop's webhook secret. The body is parsed with `parse_float=Decimal`, so prices never
pass through float.

Money is carried as Shopify charged it, to the cent: each line's list price, its discount
allocations (line- and order-level) and tax lines, the shipping lines, and `total_price`
(see `order_money`). The order's payment mode is `channel`: Shopify collected the money.

Line items the DOM cannot or should not fulfil are never dropped silently: each becomes a
`SkippedLine` with a reason code, returned to the caller and recorded on the order as a tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.common.models import Address, Customer
from dom_workflows.geo import UnknownZip, geocode_zip
from dom_workflows.money import CENTS, Money
from dom_workflows.order.models import OrderLine, OrderRequest, PaymentMode

CHANNEL = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
SHOP_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TOPIC_HEADER = "X-Shopify-Topic"
ORDERS_CREATE = "orders/create"
# Shopify takes the payment at checkout: the DOM records it and never charges it again.
PAYMENT_MODE: PaymentMode = "channel"

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


class ShopifyDiscountAllocation(_Lenient):
    """The part of one discount application Shopify allocated to a line (or shipping line)."""

    amount: Decimal
    amount_set: PriceSet | None = None
    discount_application_index: int | None = None


class ShopifyTaxLine(_Lenient):
    price: Decimal
    price_set: PriceSet | None = None
    rate: Decimal | None = None
    title: str | None = None


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
    taxable: bool = True
    discount_allocations: list[ShopifyDiscountAllocation] = Field(default_factory=list)
    tax_lines: list[ShopifyTaxLine] = Field(default_factory=list)


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
    price: Decimal = Decimal(0)
    price_set: PriceSet | None = None
    is_removed: bool = False
    discount_allocations: list[ShopifyDiscountAllocation] = Field(default_factory=list)
    tax_lines: list[ShopifyTaxLine] = Field(default_factory=list)


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
    taxes_included: bool = False
    total_price: Decimal | None = None
    total_price_set: PriceSet | None = None
    total_tax: Decimal | None = None
    total_tax_set: PriceSet | None = None
    total_discounts: Decimal | None = None
    total_discounts_set: PriceSet | None = None
    total_shipping_price_set: PriceSet | None = None


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


def _shop(amount: Decimal | None, price_set: PriceSet | None, currency: str) -> Money | None:
    # `*_set.shop_money` is the shop's own currency, which is what the ledger prices in; the
    # plain field is the same amount in the same currency (older payloads have only that).
    if price_set is not None:
        shop = price_set.shop_money
        return Money(amount=shop.amount, currency=shop.currency_code)
    return None if amount is None else Money(amount=amount, currency=currency)


def _unit_price(item: ShopifyLineItem, currency: str) -> Money:
    price = _shop(item.price, item.price_set, currency)
    assert price is not None
    return price


def _total(parts: list[Money], currency: str) -> Money:
    return sum(parts, start=Money.zero(currency))


def _discounts(allocations: list[ShopifyDiscountAllocation], currency: str) -> Money:
    return _total(
        [_shop(a.amount, a.amount_set, currency) or Money.zero() for a in allocations], currency
    )


def _taxes(tax_lines: list[ShopifyTaxLine], currency: str) -> Money:
    return _total(
        [_shop(t.price, t.price_set, currency) or Money.zero() for t in tax_lines], currency
    )


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` split over `weights` pro rata, in whole cents that add up to it exactly
    (largest remainder; on a tie the earlier line gets the cent)."""
    whole = sum(weights, start=Decimal(0))
    cents = int((amount / CENTS).to_integral_value(ROUND_HALF_EVEN))
    if cents <= 0 or whole <= 0:
        return [Decimal("0.00") for _ in weights]
    raw = [Decimal(cents) * w / whole for w in weights]
    parts = [int(r.to_integral_value(ROUND_FLOOR)) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))[: cents - sum(parts)]:
        parts[i] += 1
    return [Decimal(c) * CENTS for c in parts]


class _ItemMoney(BaseModel):
    discount: Money  # all of the line item's discounts, order-level ones included
    tax: Money


class _OrderMoney(BaseModel):
    items: list[_ItemMoney]  # one per line item, in payload order (skipped ones too)
    shipping: Money
    tax_total: Money
    discount_total: Money
    grand_total: Money
    computed_total: Money  # what the lines, shipping and tax add up to


def order_money(so: ShopifyOrder) -> _OrderMoney:
    """Discounts, tax and shipping as Shopify charged them, in the shop currency.

    Each line item's discount is the sum of its `discount_allocations` (Shopify allocates line-
    and order-level discount applications to lines itself). A part of `total_discounts` that no
    line or shipping line carries (Shopify's own sample has one) is spread over the line items
    (gift cards excepted) pro rata to their price after their allocations, as Shopify's `across`
    allocation does. Tax is the sum of each line's `tax_lines`; shipping is each shipping
    line's price less its discount allocations, its tax lines counted in the order's tax."""
    cur = so.currency
    gross = [_unit_price(it, cur).times(it.quantity) for it in so.line_items]
    discounts = [_discounts(it.discount_allocations, cur) for it in so.line_items]
    taxes = [_taxes(it.tax_lines, cur) for it in so.line_items]
    ships = [ln for ln in so.shipping_lines if not ln.is_removed]
    ship_discount = _total([_discounts(ln.discount_allocations, cur) for ln in ships], cur)
    ship_tax = _total([_taxes(ln.tax_lines, cur) for ln in ships], cur)
    shipping = _total(
        [(_shop(ln.price, ln.price_set, cur) or Money.zero(cur)) for ln in ships], cur
    )
    if not ships and so.total_shipping_price_set is not None:
        shipping = _shop(None, so.total_shipping_price_set, cur) or shipping
    shipping = shipping - ship_discount
    allocated = _total(discounts, cur) + ship_discount
    discount_total = _shop(so.total_discounts, so.total_discounts_set, cur) or allocated
    rest = (discount_total - allocated).amount
    if rest > 0:
        weights = [
            Decimal(0) if it.gift_card else (g - d).amount
            for it, g, d in zip(so.line_items, gross, discounts, strict=True)
        ]
        extra = allocate(rest, weights)
        discounts = [
            d + Money(amount=x, currency=cur) for d, x in zip(discounts, extra, strict=True)
        ]
    tax_total = _shop(so.total_tax, so.total_tax_set, cur) or _total(taxes, cur) + ship_tax
    computed = _total([g - d for g, d in zip(gross, discounts, strict=True)], cur) + shipping
    if not so.taxes_included:
        computed = computed + _total(taxes, cur) + ship_tax
    return _OrderMoney(
        items=[_ItemMoney(discount=d, tax=t) for d, t in zip(discounts, taxes, strict=True)],
        shipping=shipping,
        tax_total=tax_total,
        discount_total=discount_total,
        grand_total=_shop(so.total_price, so.total_price_set, cur) or computed,
        computed_total=computed,
    )


def _address(a: ShopifyAddress | None) -> Address | None:
    if a is None:
        return None
    name = a.name or " ".join(p for p in (a.first_name, a.last_name) if p)
    has_point = a.latitude is not None and a.longitude is not None
    if has_point and a.zip:
        # The ZIP wins: Shopify's coordinates can be somewhere else entirely (its sample has
        # Ottawa's for a Kentucky ZIP). They are kept only if the ZIP cannot be geocoded.
        try:
            geocode_zip(a.zip)
            has_point = False
        except UnknownZip:
            pass
    return Address(
        name=name,
        line1=a.address1 or "",
        city=a.city or "",
        state=a.province_code,
        zip=a.zip,
        country=a.country_code or "US",
        # Without a usable ZIP, Shopify's coordinates are used as-is; otherwise the ZIP is
        # geocoded during validation.
        lat=float(a.latitude) if has_point and a.latitude is not None else None,
        lon=float(a.longitude) if has_point and a.longitude is not None else None,
    )


def map_order(payload: Any, *, payment_mode: PaymentMode = PAYMENT_MODE) -> MappedOrder:
    """Map a Shopify `orders/create` payload. Raises pydantic.ValidationError for a payload that
    is not a Shopify order; an order the DOM cannot fulfil as received is still mapped (with
    `hold_if_invalid`), so the workflow holds it for review."""
    so = ShopifyOrder.model_validate(payload)
    money = order_money(so)
    lines: list[OrderLine] = []
    skipped: list[SkippedLine] = []
    for item, charged in zip(so.line_items, money.items, strict=True):
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
                discount=charged.discount,
                tax=charged.tax,
                tax_included=so.taxes_included,
            )
        )
    unsourceable = [s for s in skipped if s.reason == "no_sku"]
    if not lines and not unsourceable:
        return MappedOrder(order=None, skipped=skipped)  # gift cards and digital items only
    # Shopify has taken the order and the money: what the DOM cannot fulfil as received (no
    # sourceable line, no shipping address, an unknown SKU or ZIP) becomes an order on a review
    # hold with the reason, never a refusal Shopify would retry.
    ship_to = _address(so.shipping_address)
    tags = ["shopify", *_split_tags(so.tags)]
    if any(s.reason == "no_sku" for s in skipped):
        tags.append("needs-review")
    tags += [f"shopify-skipped:{s.line_item_id}:{s.reason}" for s in skipped]
    if money.computed_total != money.grand_total:
        # Never refused (Shopify has charged it), but a person should look at it.
        if "needs-review" not in tags:
            tags.append("needs-review")
        tags.append(f"shopify-total-mismatch:{money.computed_total.amount}")
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
        payment_mode=payment_mode,
        # Shopify charges the customer (total_price) at checkout; with payment_mode `channel`
        # the DOM records that and never charges it again.
        paid=money.grand_total if payment_mode == "channel" else None,
        hold_if_invalid=True,
        shipping=money.shipping,
        tax_total=money.tax_total,
        discount_total=money.discount_total,
        grand_total=money.grand_total,
    )
    return MappedOrder(order=order, skipped=skipped)
