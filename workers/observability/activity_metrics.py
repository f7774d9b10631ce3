"""Domain metrics read off activities at the worker's boundary: each activity's typed input
and result (or error) say what the order just did -- routed, split, backordered, closed,
refused by a node, cancelled for an SLA breach -- without a line of metrics code in the
activities or the workflows (which must stay deterministic)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.supplier.activities import PO_REFUSED
from dom_workflows.common import errors
from dom_workflows.inventory.models import CloseOrderInput, ReserveAndRouteResult
from workers.observability import metrics

SLA_BREACH_PREFIX = "SLA breach at "
# Node refusals of a request as it is sent (the node never took it): a rejection too.
REFUSED_TYPES = {errors.NODE_REFUSED, PO_REFUSED}


def _routing(result: Any, error: BaseException | None, seconds: float, currency: str) -> None:
    metrics.ROUTING_DURATION.labels("error" if error else "ok").observe(seconds)
    if not isinstance(result, ReserveAndRouteResult):
        return
    for f in result.fulfillments:
        metrics.SHIPMENTS_PLANNED.labels(f.node).inc()
    if result.backordered:
        metrics.BACKORDERS.inc()
        metrics.BACKORDERED_UNITS.inc(sum(ln.qty for ln in result.backordered))
    if result.attempt == 1 and result.fulfillments:
        # The first plan is the order's split and cost as decided; re-routes are exceptions
        # with their own series (rejections, breaches).
        metrics.ORDER_SHIPMENTS.observe(len(result.fulfillments))
        cost = sum((f.shipping_cost + f.handling_cost for f in result.fulfillments), Decimal(0))
        metrics.ORDER_FULFILMENT_COST.labels(currency).observe(float(cost))


def _closed(args: Sequence[Any], channel: str) -> None:
    inp = args[0] if args else None
    if isinstance(inp, CloseOrderInput):
        metrics.ORDERS_CLOSED.labels(inp.status, channel).inc()


def _cancel(args: Sequence[Any], attempt: int) -> None:
    """A cancel whose reason is an SLA breach: counted once, on its first attempt."""
    inp = args[0] if args else None
    reason = str(getattr(inp, "reason", "") or "")
    if attempt != 1 or not reason.startswith(SLA_BREACH_PREFIX):
        return
    node = getattr(inp, "node", None) or getattr(inp, "supplier", None) or "unknown"
    what = reason.lower()
    stage = "accept" if "not accepted" in what else "ship" if "not shipped" in what else "other"
    metrics.SLA_BREACHES.labels(node, stage).inc()


def _refused(args: Sequence[Any], error: BaseException | None) -> None:
    if not isinstance(error, ApplicationError) or error.type not in REFUSED_TYPES:
        return
    inp = args[0] if args else None
    node = getattr(inp, "node", None) or getattr(inp, "supplier", None) or "unknown"
    metrics.REJECTIONS.labels(node, "refused_request").inc()


class ActivityObservation:
    """What one finished activity contributes to the domain metrics."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def record(
        self,
        activity_type: str,
        args: Sequence[Any],
        result: Any,
        error: BaseException | None,
        seconds: float,
        *,
        attempt: int,
        channel: str,
    ) -> None:
        handlers: dict[str, Callable[[], None]] = {
            "reserve_and_route": lambda: _routing(result, error, seconds, self.currency),
            "close_order": lambda: None if error else _closed(args, channel),
            "cancel_at_node": lambda: _cancel(args, attempt),
            "cancel_purchase_order": lambda: _cancel(args, attempt),
            "instruct_node": lambda: _refused(args, error),
            "send_purchase_order": lambda: _refused(args, error),
        }
        handler = handlers.get(activity_type)
        if handler is not None:
            handler()
