"""The order's side of consolidation: before a shipment is sent to its node, it joins the
customer's ConsolidationWorkflow and waits (at most the window) for its group, so shipments of
several orders to one address from one node leave as one parcel."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from dom_workflows.common.retry import SIGNAL

with workflow.unsafe.imports_passed_through():
    from activities.consolidation.activities import ConsolidationActivities
    from dom_workflows.consolidation.models import Consolidated, JoinConsolidation, address_key
    from dom_workflows.order.book import OrderBook
    from dom_workflows.order.models import Shipment

# The group normally answers when the window closes; past this grace the shipment goes alone.
GRACE = timedelta(minutes=5)


class Consolidation:
    def __init__(self, book: OrderBook) -> None:
        self._book = book
        self._answers: dict[str, Consolidated] = {}

    def answered(self, msg: Consolidated) -> None:
        self._answers[msg.shipment_id] = msg

    def _applies(self) -> bool:
        order = self._book.order
        return (
            self._book.policy.consolidation_window > timedelta(0)
            and order.delivery == "ship"
            and order.ship_to is not None
        )

    async def join(self, sh: Shipment) -> None:
        """Join the customer's group and wait for its answer; sets the shipment's group."""
        if not self._applies():
            return
        book, to = self._book, self._book.order.ship_to
        assert to is not None
        window = book.policy.consolidation_window
        await workflow.execute_local_activity_method(
            ConsolidationActivities.join_consolidation,
            JoinConsolidation(
                customer_id=book.order.customer.id,
                address_key=address_key(to.zip, to.line1, to.lat, to.lon),
                node=sh.node,
                order_workflow_id=book.state.workflow_id,
                shipment_id=sh.shipment_id,
                window=window,
            ),
            **SIGNAL,
            summary=f"join consolidation of customer {book.order.customer.id} at {sh.node}",
        )
        try:
            await workflow.wait_condition(
                lambda: sh.shipment_id in self._answers or not sh.status.is_open,
                timeout=window + GRACE,
                timeout_summary=f"consolidation window ({window}) for {sh.shipment_id}",
            )
        except TimeoutError:
            book.event(
                "consolidation", "no answer from the consolidation; shipping alone", sh.shipment_id
            )
            return
        group = self._answers.get(sh.shipment_id)
        if group is None:
            return
        sh.consolidation_group = group.group_id
        others = [s for s in group.shipments if s != sh.shipment_id]
        if others:
            book.event(
                "consolidated",
                f"ships as one parcel with {', '.join(others)} ({group.group_id})",
                sh.shipment_id,
            )
