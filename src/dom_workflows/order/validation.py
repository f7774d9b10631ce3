"""Validation of the order as received. An order that cannot be fulfilled as received fails at
once with InvalidOrder, unless its channel has already taken it (and the customer's money):
then it waits on a review hold with the reason, is validated again when ops release it, and
ends cancelled if ops cancel it or the hold times out."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from dom_workflows.common.errors import ACTIVITY_FAILED
from dom_workflows.common.retry import DATABASE

with workflow.unsafe.imports_passed_through():
    from activities.order.activities import OrderActivities
    from dom_workflows.common import errors
    from dom_workflows.common.errors import failure_cause
    from dom_workflows.common.text import count
    from dom_workflows.inventory.models import ValidatedOrder
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.holds import Holds
    from dom_workflows.order.models import OrderRequest, OrderStatus


class Validation:
    def __init__(self, book: OrderBook, holds: Holds) -> None:
        self._book = book
        self._holds = holds

    async def validated(self, order: OrderRequest) -> ValidatedOrder | None:
        """The validated order; None when it was cancelled while held as received."""
        book = self._book
        while True:
            try:
                return await workflow.execute_local_activity_method(
                    OrderActivities.validate_order,
                    order,
                    **DATABASE,
                    summary=f"validate {count(len(order.lines), 'line')} and geocode the ship-to",
                )
            except ACTIVITY_FAILED as e:
                reason = failure_cause(e)
                if not order.hold_if_invalid:
                    book.stop(OrderStatus.FAILED, reason)
                    raise ApplicationError(
                        reason, type=errors.INVALID_ORDER, non_retryable=True
                    ) from None
            self._holds.place("review", f"cannot be fulfilled as received: {reason}", "validation")
            await workflow.wait_condition(lambda: not self._holds.held or book.terminal())
            if book.terminal():
                return None
