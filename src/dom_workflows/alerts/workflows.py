"""AlertEvaluationWorkflow: one short run per tick of the `dom-alerts` Temporal Schedule.

Why a Schedule: evaluation is periodic work over shared state (the DOM database, visibility), not
any one entity's life; the Schedule lives in the Temporal server, so it survives worker and
server restarts, skips a tick rather than piling runs behind a slow one, and an operator can
pause it or trigger a run from the UI. The run's details (Temporal UI) list what opened and
resolved, so the history of runs is also the history of alerts.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.alerts.activities import AlertActivities
    from dom_workflows.alerts.models import DeliveryResult, EvaluateInput, EvaluationResult
    from dom_workflows.order.markdown import code_table


def details_markdown(result: EvaluationResult, delivery: str) -> str:
    lines = [
        f"**Alert evaluation at {result.evaluated_at:%Y-%m-%d %H:%M:%S} UTC**: {result.rules} "
        f"rule(s), {result.open_alerts} alert(s) open",
        "",
    ]
    if result.opened or result.resolved:
        changes = [("opened", t) for t in result.opened] + [
            ("resolved", t) for t in result.resolved
        ]
        rows = [(event, t.key, t.summary) for event, t in changes]
        lines += [code_table(("change", "alert", "what"), rows), ""]
    else:
        lines.append("No alert opened or resolved.")
    if result.updated or result.clearing:
        lines.append(f"{result.updated} still holding, {result.clearing} clearing.")
    for e in result.errors:
        lines.append(f"- rule {e.rule_id} not evaluated: {e.error}")
    if delivery:
        lines.append(f"Webhook: {delivery}")
    return "\n".join(lines)


@workflow.defn
class AlertEvaluationWorkflow:
    @workflow.run
    async def run(self) -> EvaluationResult:
        result = await workflow.execute_activity_method(
            AlertActivities.evaluate_alerts,
            EvaluateInput(),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10)
            ),
            summary="evaluate alert rules",
        )
        delivery = ""
        if result.pending_deliveries:
            try:
                sent: DeliveryResult = await workflow.execute_activity_method(
                    AlertActivities.deliver_alert_webhooks,
                    start_to_close_timeout=timedelta(minutes=1),
                    # Bounded here; what stays pending is sent again by the next run.
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=1),
                        maximum_interval=timedelta(seconds=10),
                        maximum_attempts=5,
                    ),
                    summary=f"deliver {result.pending_deliveries} alert webhook(s)",
                )
                delivery = f"{sent.delivered} delivered"
            except ActivityError as e:
                cause = str(e.cause or e)
                delivery = f"not acknowledged yet, the next run sends again ({cause})"
        workflow.set_current_details(details_markdown(result, delivery))
        return result
