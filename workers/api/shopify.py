"""Shopify's `orders/create` webhook, exactly as Shopify sends it.

Shopify retries a delivery until it gets a 2xx and may deliver the same event more than once
(same `X-Shopify-Webhook-Id`); both land on the same order: the webhook id is remembered with
the answer, and the order id is derived from Shopify's order id.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, ValidationError

from activities.inventory import schema
from activities.order.activities import check_lines, locate
from dom_workflows.channels import shopify
from dom_workflows.channels.shopify import SkippedLine
from dom_workflows.order.models import OrderRequest, order_workflow_id
from workers.api import keys
from workers.api.auth import signed
from workers.api.deps import ApiDeps, get_deps
from workers.api.errors import Problem, validation_problem
from workers.api.orders import MAX_LINE_QTY, PROBLEMS, submit
from workers.api.security import verified_shopify_body

log = logging.getLogger("dom.api.shopify")
router = APIRouter(tags=["channels"])


class ShopifyReceipt(BaseModel):
    # on_hold: the order exists but cannot be fulfilled as received; it waits on a review hold
    # with the reasons under `problems` (Shopify has charged it: it is never refused).
    status: Literal["created", "existing", "nothing_to_fulfil", "on_hold"]
    shopify_order_id: str
    order_id: str | None = None
    workflow_id: str | None = None
    status_url: str | None = None
    skipped: list[SkippedLine] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


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
    """Shopify `orders/create`. 202 when an order workflow was started, 200 for a repeat and
    for an order that cannot be fulfilled as received (it is started on a review hold: Shopify
    has charged it).
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
    shopify_id = str(payload["id"])
    if mapped.order is None:
        receipt = ShopifyReceipt(
            status="nothing_to_fulfil", shopify_order_id=shopify_id, skipped=mapped.skipped
        )
        response.status_code = 200
    else:
        too_many = [ln for ln in mapped.order.lines if ln.qty > MAX_LINE_QTY]
        if too_many:  # not an order anybody placed: a broken payload
            raise Problem(
                422,
                "invalid-order",
                f"line {too_many[0].line_id}: quantity {too_many[0].qty} exceeds the limit of "
                f"{MAX_LINE_QTY}",
            )
        problems = await unfulfillable_because(deps, mapped.order)
        order, created = await submit(deps, mapped.order)
        url = str(request.url_for("get_order", order_id=order.order_id))
        receipt = ShopifyReceipt(
            status="on_hold" if problems and created else "created" if created else "existing",
            shopify_order_id=shopify_id,
            order_id=order.order_id,
            workflow_id=order_workflow_id(order.order_id),
            status_url=url,
            skipped=mapped.skipped,
            problems=problems,
        )
        response.status_code = 202 if created and not problems else 200
    for s in mapped.skipped:
        log.warning(
            "Shopify order %s line item %s skipped: %s", shopify_id, s.line_item_id, s.detail
        )
    if webhook_key:
        await keys.remember(
            deps.engine, webhook_key, "shopify-webhook", receipt.model_dump(mode="json")
        )
    return receipt


async def unfulfillable_because(deps: ApiDeps, order: OrderRequest) -> list[str]:
    """Why the order cannot be fulfilled as received (the workflow's own validation will hold
    it for the same reasons); empty when it can. Cheap: no workflow is asked."""
    problems = check_lines(order)
    skus = sorted({ln.sku for ln in order.lines})
    async with deps.engine.connect() as conn:
        rows = await conn.execute(sa.select(schema.skus.c.sku).where(schema.skus.c.sku.in_(skus)))
        known = set(rows.scalars())
    problems += [
        f"line {ln.line_id}: unknown SKU {ln.sku!r}" for ln in order.lines if ln.sku not in known
    ]
    if order.delivery == "ship":
        _, problem = locate(order)
        if problem:
            problems.append(problem)
    return problems
