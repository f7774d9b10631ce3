"""Shopify's `orders/create` webhook, exactly as Shopify sends it.

Shopify retries a delivery until it gets a 2xx and may deliver the same event more than once
(same `X-Shopify-Webhook-Id`); both land on the same order: the webhook id is remembered with
the answer, and the order id is derived from Shopify's order id.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, ValidationError

from dom_workflows.channels import shopify
from dom_workflows.channels.shopify import SkippedLine
from dom_workflows.order.models import order_workflow_id
from workers.api import keys
from workers.api.auth import signed
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, validation_problem
from workers.api.orders import PROBLEMS, precheck, submit
from workers.api.security import verified_shopify_body

log = logging.getLogger("dom.api.shopify")
router = APIRouter(tags=["channels"])


class ShopifyReceipt(BaseModel):
    status: Literal["created", "existing", "nothing_to_fulfil"]
    shopify_order_id: str
    order_id: str | None = None
    workflow_id: str | None = None
    status_url: str | None = None
    skipped: list[SkippedLine] = Field(default_factory=list)


@router.post(
    "/v1/channels/shopify/orders",
    dependencies=[signed()],  # the shop's HMAC signature is the credential
    response_model=ShopifyReceipt,
    status_code=202,
    responses={200: {"model": ShopifyReceipt, "description": "already received"}, **PROBLEMS},
    openapi_extra={
        "parameters": [
            {
                "name": h,
                "in": "header",
                "required": h != shopify.WEBHOOK_ID_HEADER,
                "schema": {"type": "string"},
            }
            for h in (shopify.HMAC_HEADER, shopify.SHOP_HEADER, shopify.WEBHOOK_ID_HEADER)
        ]
    },
)
async def shopify_order(
    request: Request, response: Response, deps: ApiDeps = Depends(get_deps)
) -> ShopifyReceipt:
    """Shopify `orders/create`. 202 when an order workflow was started, 200 for a repeat.
    Gift cards, items needing no shipping and items without SKU are listed under `skipped`."""
    shop, body = await verified_shopify_body(request, deps.secrets, deps.clock)
    topic = request.headers.get(shopify.TOPIC_HEADER)
    if topic and topic != shopify.ORDERS_CREATE:
        raise Problem(
            422, "wrong-topic", f"this endpoint takes {shopify.ORDERS_CREATE} webhooks, not {topic}"
        )
    webhook_id = request.headers.get(shopify.WEBHOOK_ID_HEADER)
    webhook_key = keys.make_key("shopify-webhook", shop, webhook_id) if webhook_id else None
    if webhook_key and (seen := await keys.lookup(deps.engine, webhook_key)):
        response.status_code = 200
        return ShopifyReceipt.model_validate(
            {**seen, "status": "existing" if seen.get("order_id") else seen["status"]}
        )
    try:
        payload: Any = shopify.parse_body(body)
    except ValueError as e:
        raise Problem(422, "invalid-json", f"the webhook body is not valid JSON: {e}") from None
    try:
        mapped = shopify.map_order(payload)
    except ValidationError as e:
        raise validation_problem(e, "the Shopify order") from None
    except shopify.UnmappableShopifyOrder as e:
        raise Problem(422, "unmappable-order", str(e)) from None
    shopify_id = str(payload["id"])
    if mapped.order is None:
        receipt = ShopifyReceipt(
            status="nothing_to_fulfil", shopify_order_id=shopify_id, skipped=mapped.skipped
        )
        response.status_code = 200
    else:
        precheck(mapped.order)
        order, created = await submit(deps, mapped.order)
        url = str(request.url_for("get_order", order_id=order.order_id))
        receipt = ShopifyReceipt(
            status="created" if created else "existing",
            shopify_order_id=shopify_id,
            order_id=order.order_id,
            workflow_id=order_workflow_id(order.order_id),
            status_url=url,
            skipped=mapped.skipped,
        )
        response.status_code = 202 if created else 200
    for s in mapped.skipped:
        log.warning(
            "Shopify order %s line item %s skipped: %s", shopify_id, s.line_item_id, s.detail
        )
    if webhook_key:
        await keys.remember(
            deps.engine, webhook_key, "shopify-webhook", receipt.model_dump(mode="json")
        )
    return receipt
