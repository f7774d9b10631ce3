"""Timeouts and retry policies for the kinds of activity the workflows call, in one place.

Each preset is the keyword arguments of `workflow.execute_activity*`, so a call site reads
`**DATABASE` and every workflow retries the same kind of work the same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

from dom_workflows.common import errors

# Our own database: short calls; retried quickly, except for answers no retry can change.
DATABASE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        non_retryable_error_types=[errors.INVALID_ORDER, errors.ROUTING_ERROR, errors.ORDER_CLOSED],
    ),
}

# A node or supplier over HTTP. Unreachable for NODE_GIVE_UP counts as a refusal: the units go
# elsewhere instead of waiting on a dead partner.
NODE_GIVE_UP = timedelta(minutes=30)
NODE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=20),
    "schedule_to_close_timeout": NODE_GIVE_UP,
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        maximum_interval=timedelta(minutes=2),
        non_retryable_error_types=[errors.NODE_REFUSED],
    ),
}

# One try of a node call; the caller retries on durable timers until NODE_GIVE_UP
# (ShipmentFollower._send), and stops at once when the order is being undone.
NODE_ONCE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=20),
    "retry_policy": RetryPolicy(maximum_attempts=1),
}

# The carrier: labels and voids. A carrier down this long is an answer: the caller escalates
# (the store arranges the label by hand) instead of holding the order.
CARRIER_GIVE_UP = timedelta(minutes=10)
CARRIER: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=20),
    "schedule_to_close_timeout": CARRIER_GIVE_UP,
    "retry_policy": NODE["retry_policy"],
}

# The payment provider: declines and refusals are answers, not faults; a provider down for
# PAYMENT_GIVE_UP is one too (an authorization becomes a payment hold, a capture an escalation).
PAYMENT_GIVE_UP = timedelta(hours=1)
PAYMENT: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": PAYMENT_GIVE_UP,
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        maximum_interval=timedelta(minutes=1),
        non_retryable_error_types=[
            errors.PAYMENT_DECLINED,
            errors.CAPTURE_REFUSED,
            errors.VOID_REFUSED,
        ],
    ),
}

# The provider's calls run as local activities: past the first seconds, retries wait on durable
# timers rather than inside the worker.
PAYMENT_LOCAL: dict[str, Any] = {**PAYMENT, "local_retry_threshold": timedelta(seconds=5)}

# Signalling another workflow from an activity (waitlists, consolidation groups).
SIGNAL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}
