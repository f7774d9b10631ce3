"""Who may call the partner and channel webhooks: per-partner and per-shop secrets.

Signatures are checked over the raw bytes before anything is parsed, so a forged or stale request
is refused with 401 before it can read or change any state.

Secrets rotate: a partner or shop may have two at once, the current one and the previous one
(optionally only until `previous_valid_until`). A request signed with either passes, and the
answer's `X-DOM-Secret: current | previous` header says which one matched, so a partner knows
when it is safe to drop the old secret. In the secrets file each entry is one of

    "wh-reno": "secret"                                   (one secret, as before)
    "wh-reno": ["new-secret", "old-secret"]               (current first, previous second)
    "wh-reno": {"secrets": ["new-secret", "old-secret"],
                "previous_valid_until": "2025-07-01T00:00:00Z"}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dom_workflows.channels import shopify
from dom_workflows.partners import signing
from workers.api.errors import Problem

SECRET_HEADER = "X-DOM-Secret"
Which = Literal["current", "previous"]


class Previous(BaseModel):
    """The secret being rotated out, and until when it is still accepted (None: until removed)."""

    secret: str
    valid_until: AwareDatetime | None = None

    def valid_at(self, now: float) -> bool:
        return self.valid_until is None or now < self.valid_until.timestamp()


def _split_entry(name: str, value: Any) -> tuple[str, Previous | None]:
    """(current, previous) from any of the three entry formats."""
    until: Any = None
    if isinstance(value, dict):
        until = value.get("previous_valid_until")
        value = value.get("secrets")
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= 2
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise ValueError(f"{name}: expected a secret or a list of one or two secrets")
    previous = Previous(secret=value[1], valid_until=until) if len(value) == 2 else None
    return value[0], previous


class PartnerSecrets(BaseModel):
    """`examples/partners.json`: partner id -> signing secret(s), Shopify shop domain -> secret(s).

    `partners` / `shopify` hold the current secret (the one to sign with); `*_previous` the
    secret being rotated out, where there is one."""

    model_config = ConfigDict(extra="ignore")  # e.g. "_comment"

    partners: dict[str, str] = Field(default_factory=dict)
    shopify: dict[str, str] = Field(default_factory=dict)
    partners_previous: dict[str, Previous] = Field(default_factory=dict)
    shopify_previous: dict[str, Previous] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _rotations(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section in ("partners", "shopify"):
            raw = data.get(section) or {}
            if not isinstance(raw, dict):
                raise ValueError(f"{section} must be an object")
            current: dict[str, str] = {}
            previous: dict[str, Previous] = dict(data.get(f"{section}_previous") or {})
            for name, value in raw.items():
                # Shop domains are case-insensitive; requests are matched lower-cased.
                key = name.strip().lower() if section == "shopify" else name
                current[key], prev = _split_entry(f"{section}.{name}", value)
                if prev is not None:
                    previous[key] = prev
            data[section] = current
            data[f"{section}_previous"] = previous
        return data


def load_secrets(path: Path) -> PartnerSecrets:
    return PartnerSecrets.model_validate(json.loads(Path(path).read_text()))


def _candidates(current: str, previous: Previous | None, now: float) -> list[tuple[Which, str]]:
    found: list[tuple[Which, str]] = [("current", current)]
    if previous is not None and previous.valid_at(now):
        found.append(("previous", previous.secret))
    return found


def _matched(request: Request, which: Which) -> None:
    """Remember which secret matched; SecretHeaderMiddleware puts it on the answer."""
    request.state.dom_secret = which


class SecretHeaderMiddleware:
    """Adds `X-DOM-Secret: current | previous` to the answer of a request whose signature
    matched (whatever the answer's status)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                which = (scope.get("state") or {}).get("dom_secret")
                if which:
                    headers = list(message.get("headers", []))
                    headers.append((SECRET_HEADER.lower().encode(), str(which).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


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
    now = clock()
    first: signing.BadSignature | None = None
    for which, candidate in _candidates(secret, secrets.partners_previous.get(partner_id), now):
        try:
            signing.verify(
                candidate,
                request.headers.get(signing.TIMESTAMP_HEADER),
                request.headers.get(signing.SIGNATURE_HEADER),
                body,
                now,
            )
        except signing.BadSignature as e:
            first = first or e
            continue
        _matched(request, which)
        return body
    raise Problem(401, "bad-signature", f"request refused: {first}")


async def verified_shopify_body(
    request: Request, secrets: PartnerSecrets, clock: Callable[[], float] = time.time
) -> tuple[str, bytes]:
    """(shop domain, raw body) of a webhook Shopify signed, or a 401 problem."""
    body = await request.body()
    shop = (request.headers.get(shopify.SHOP_HEADER) or "").strip().lower()
    if not shop:
        raise Problem(401, "unknown-shop", f"{shopify.SHOP_HEADER} header is required")
    secret = secrets.shopify.get(shop)
    if secret is None:
        raise Problem(401, "unknown-shop", f"shop {shop!r} is not configured")
    first: shopify.BadShopifySignature | None = None
    for which, candidate in _candidates(secret, secrets.shopify_previous.get(shop), clock()):
        try:
            shopify.verify(candidate, body, request.headers.get(shopify.HMAC_HEADER))
        except shopify.BadShopifySignature as e:
            first = first or e
            continue
        _matched(request, which)
        return shop, body
    raise Problem(401, "bad-signature", f"webhook refused: {first}")
