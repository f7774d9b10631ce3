"""Who may call the partner and channel webhooks: per-partner and per-shop secrets.

Signatures are checked over the raw bytes before anything is parsed, so a forged or stale request
is refused with 401 before it can read or change any state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dom_workflows.channels import shopify
from dom_workflows.partners import signing
from workers.api.errors import Problem


class PartnerSecrets(BaseModel):
    """`examples/partners.json`: partner id -> signing secret, Shopify shop domain -> secret."""

    model_config = ConfigDict(extra="ignore")  # e.g. "_comment"

    partners: dict[str, str] = Field(default_factory=dict)
    shopify: dict[str, str] = Field(default_factory=dict)

    @field_validator("shopify")
    @classmethod
    def _lower_domains(cls, v: dict[str, str]) -> dict[str, str]:
        # Shop domains are case-insensitive; requests are matched lower-cased.
        return {k.strip().lower(): s for k, s in v.items()}


def load_secrets(path: Path) -> PartnerSecrets:
    return PartnerSecrets.model_validate(json.loads(Path(path).read_text()))


async def verified_partner_body(
    request: Request,
    partner_id: str,
    secrets: PartnerSecrets,
    clock: Callable[[], float] = time.time,
) -> bytes:
    """The raw body of a request signed by `partner_id`, or a 401 problem."""
    body = await request.body()
    secret = secrets.partners.get(partner_id)
    if secret is None:
        # Same status as a bad signature: an unknown partner id gets no extra information.
        raise Problem(401, "unknown-partner", f"partner {partner_id!r} is not configured")
    try:
        signing.verify(
            secret,
            request.headers.get(signing.TIMESTAMP_HEADER),
            request.headers.get(signing.SIGNATURE_HEADER),
            body,
            clock(),
        )
    except signing.BadSignature as e:
        raise Problem(401, "bad-signature", f"request refused: {e}") from None
    return body


async def verified_shopify_body(request: Request, secrets: PartnerSecrets) -> tuple[str, bytes]:
    """(shop domain, raw body) of a webhook Shopify signed, or a 401 problem."""
    body = await request.body()
    shop = (request.headers.get(shopify.SHOP_HEADER) or "").strip().lower()
    if not shop:
        raise Problem(401, "unknown-shop", f"{shopify.SHOP_HEADER} header is required")
    secret = secrets.shopify.get(shop)
    if secret is None:
        raise Problem(401, "unknown-shop", f"shop {shop!r} is not configured")
    try:
        shopify.verify(secret, body, request.headers.get(shopify.HMAC_HEADER))
    except shopify.BadShopifySignature as e:
        raise Problem(401, "bad-signature", f"webhook refused: {e}") from None
    return shop, body
