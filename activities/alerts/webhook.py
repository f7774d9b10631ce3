"""The alert webhook: every pending delivery POSTed to DOM_ALERT_WEBHOOK_URL, signed like the
partner webhooks (X-DOM-Timestamp, X-DOM-Signature = hex HMAC-SHA256(secret, timestamp + "." +
body), see dom_workflows/partners/signing.py) with the delivery's Idempotency-Key. A delivery
stays pending, and is sent again with the same body and key, until the receiver answers 2xx.

The secret comes from DOM_ALERT_WEBHOOK_SECRET, or from the file DOM_ALERT_WEBHOOK_SECRET_FILE
names (a mounted secret); it is never in the repository. A URL without a secret is refused: the
receiver could not tell our alerts from anyone's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from dom_workflows.alerts.models import DeliveryResult
from dom_workflows.partners.signing import signed_headers

URL_ENV = "DOM_ALERT_WEBHOOK_URL"
SECRET_ENV = "DOM_ALERT_WEBHOOK_SECRET"
SECRET_FILE_ENV = "DOM_ALERT_WEBHOOK_SECRET_FILE"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-DOM-Alert-Event"
BATCH = 100
deliveries = schema.alert_deliveries


class WebhookMisconfigured(ValueError):
    pass


@dataclass(frozen=True)
class AlertWebhook:
    url: str
    secret: str


def from_env(env: dict[str, str] | None = None) -> AlertWebhook | None:
    e = os.environ if env is None else env
    url = e.get(URL_ENV, "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise WebhookMisconfigured(f"{URL_ENV} must be an http(s) URL, got {url!r}")
    secret = e.get(SECRET_ENV, "")
    if not secret and (path := e.get(SECRET_FILE_ENV, "").strip()):
        try:
            secret = Path(path).read_text().strip()
        except OSError as err:
            raise WebhookMisconfigured(f"{SECRET_FILE_ENV}: cannot read {path}: {err}") from None
    if not secret:
        raise WebhookMisconfigured(
            f"{URL_ENV} is set but neither {SECRET_ENV} nor {SECRET_FILE_ENV}: alerts must be signed"
        )
    return AlertWebhook(url=url, secret=secret)


def _now() -> float:
    return datetime.now(UTC).timestamp()


async def deliver_pending(
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    hook: AlertWebhook,
    clock: Callable[[], float] = _now,
) -> DeliveryResult:
    """Send every pending delivery, oldest first; mark each acknowledged one delivered."""
    async with engine.connect() as conn:
        pending = (
            await conn.execute(
                sa.select(
                    deliveries.c.id,
                    deliveries.c.event,
                    deliveries.c.idempotency_key,
                    deliveries.c.body,
                )
                .where(deliveries.c.status == "pending")
                .order_by(deliveries.c.id)
                .limit(BATCH)
            )
        ).all()
    result = DeliveryResult()
    for d in pending:
        body = d.body.encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: d.idempotency_key,
            EVENT_HEADER: d.event,
            **signed_headers(hook.secret, body, clock()),
        }
        try:
            r = await http.post(hook.url, content=body, headers=headers)
            error = "" if r.is_success else f"{hook.url} answered {r.status_code}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            if error:
                await conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == d.id, deliveries.c.status == "pending")
                    .values(attempts=deliveries.c.attempts + 1, last_error=error[:500])
                )
                result.errors.append(f"{d.idempotency_key}: {error}")
                result.pending += 1
            else:
                await conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == d.id, deliveries.c.status == "pending")
                    .values(
                        status="delivered",
                        attempts=deliveries.c.attempts + 1,
                        last_error="",
                        delivered_at=now,
                    )
                )
                result.delivered += 1
    return result
