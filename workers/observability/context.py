"""Which order, workflow and activity the current task works for: set by the worker's
DomainInterceptor around each activity, read by the JSON log formatter."""

from __future__ import annotations

import contextvars

from dom_workflows.order.models import ORDER_WORKFLOW_ID_PREFIX

# (workflow id, activity type) of the activity running in this task.
activity_context: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "dom_activity_context", default=None
)


def order_id_of(workflow_id: str) -> str | None:
    """The order id of an order workflow's id (`order-<id>`), else None."""
    if workflow_id.startswith(ORDER_WORKFLOW_ID_PREFIX):
        return workflow_id[len(ORDER_WORKFLOW_ID_PREFIX) :]
    return None
