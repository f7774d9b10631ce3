"""The order's side of consolidation: before a shipment is sent to its node, it joins the
customer's ConsolidationWorkflow and waits (at most the window) for its group, so shipments of
several orders to one address from one node leave as one parcel."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from dom_workflows.order.base import DB_RETRY, DB_TIMEOUT, OrderBase

with workflow.unsafe.imports_passed_through():
    from activities.consolidation.activities import ConsolidationActivities
    from dom_workflows.consolidation.models import Consolidated, JoinConsolidation, address_key
    from dom_workflows.consolidation.workflows import ORDER_CONSOLIDATED_SIGNAL
    from dom_workflows.order.models import Shipment

CONSOLIDATION_PATCH = "consolidation-v1"
# The group normally answers when the window closes; past this grace the shipment goes alone.
GRACE = timedelta(minutes=5)


class ConsolidationMixin(OrderBase):
    _consolidated: dict[str, Consolidated]

    def _consolidates(self, sh: Shipment) -> bool:
        window = self._policy.consolidation_window
        return (
            window > timedelta(0)
            and self._order.delivery == "ship"
            and self._order.ship_to is not None
            and workflow.patched(CONSOLIDATION_PATCH)
        )

    async def _consolidate(self, sh: Shipment) -> None:
        if not self._consolidates(sh):
            return
        to = self._order.ship_to
        assert to is not None
        window = self._policy.consolidation_window
        await workflow.execute_activity_method(
            ConsolidationActivities.join_consolidation,
            JoinConsolidation(
                customer_id=self._order.customer.id,
                address_key=address_key(to.zip, to.line1, to.lat, to.lon),
                node=sh.node,
                order_workflow_id=self._state.workflow_id,
                shipment_id=sh.shipment_id,
                window=window,
            ),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"join consolidation of customer {self._order.customer.id} at {sh.node}",
        )
        try:
            await workflow.wait_condition(
                lambda: sh.shipment_id in self._consolidated or not sh.status.is_open,
                timeout=window + GRACE,
                timeout_summary=f"consolidation window ({window}) for {sh.shipment_id}",
            )
        except TimeoutError:
            self._event(
                "consolidation", "no answer from the consolidation; shipping alone", sh.shipment_id
            )
            return
        group = self._consolidated.get(sh.shipment_id)
        if group is None:
            return
        sh.consolidation_group = group.group_id
        others = [s for s in group.shipments if s != sh.shipment_id]
        if others:
            self._event(
                "consolidated",
                f"ships as one parcel with {', '.join(others)} ({group.group_id})",
                sh.shipment_id,
            )

    @workflow.signal(name=ORDER_CONSOLIDATED_SIGNAL)
    def consolidated(self, msg: Consolidated) -> None:
        self._consolidated[msg.shipment_id] = msg
