"""The alert activities the evaluation workflow runs on every tick of the `dom-alerts` Schedule."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.alerts import webhook
from activities.alerts.evaluate import evaluate
from activities.alerts.visibility import OrderVisibility, TemporalVisibility
from activities.alerts.webhook import AlertWebhook
from activities.inventory.db import utcnow
from dom_workflows.alerts.models import DeliveryResult, EvaluateInput, EvaluationResult

HTTP_TIMEOUT_SECONDS = 10.0


class AlertActivities:
    def __init__(
        self, engine: AsyncEngine, visibility: OrderVisibility, hook: AlertWebhook | None
    ) -> None:
        self.engine = engine
        self.visibility = visibility
        self.hook = hook

    @activity.defn
    async def evaluate_alerts(self, request: EvaluateInput) -> EvaluationResult:
        """Idempotent in effect: a retry re-reads the rules and the open alerts, and the
        conditional updates keep one open alert per key."""
        now = request.now or utcnow()
        return await evaluate(self.engine, self.visibility, now, deliver=self.hook is not None)

    @activity.defn
    async def deliver_alert_webhooks(self) -> DeliveryResult:
        """Raises (so Temporal retries with backoff) while a delivery is unacknowledged; the
        delivery keeps its body and Idempotency-Key across tries and evaluation runs."""
        if self.hook is None:
            return DeliveryResult()
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            result = await webhook.deliver_pending(self.engine, http, self.hook)
        if result.pending:
            raise ApplicationError(
                f"{result.pending} alert webhook delivery(ies) not acknowledged: "
                + "; ".join(result.errors[:3]),
                type="AlertWebhookPending",
            )
        return result


def alert_activities(client: Client, task_queue: str, engine: AsyncEngine) -> list[Any]:
    """For the worker: the alert webhook comes from the environment (off when unset)."""
    acts = AlertActivities(engine, TemporalVisibility(client, task_queue), webhook.from_env())
    return [acts.evaluate_alerts, acts.deliver_alert_webhooks]
