"""OrderBook: the order's state and the bookkeeping every step does with it (timeline,
escalations, status, what the Temporal UI shows). One instance per workflow run, handed to
each helper that needs it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dom_workflows.money import Money
    from dom_workflows.order import search_attributes as attrs
    from dom_workflows.order import state as bk
    from dom_workflows.order.models import (
        LineState,
        OrderPolicy,
        OrderRequest,
        OrderState,
        OrderStatus,
        OrderTotals,
        TimelineEvent,
        order_workflow_id,
    )


class OrderBook:
    def __init__(self, order: OrderRequest) -> None:
        self.order = order
        self.policy = OrderPolicy()
        value = order.value() if order.lines else Money.zero()
        self.state = OrderState(
            order_id=order.order_id,
            workflow_id=order_workflow_id(order.order_id),
            status=OrderStatus.RECEIVED,
            channel=order.channel,
            customer_id=order.customer.id,
            customer_tier=order.customer.tier,
            order_value=value,
            external_id=order.external_id,
            customer_email=order.customer.email,
            ship_to=order.ship_to,
            delivery=order.delivery,
            pickup_node=order.pickup_node,
            tags=list(order.tags),
            payment_mode=order.payment_mode,
            totals=OrderTotals(
                goods=value,
                discounts=order.discount_total,
                tax=order.tax_total,
                shipping=order.shipping,
                grand_total=order.grand_total,
            ),
            lines=[
                LineState(line_id=ln.line_id, sku=ln.sku, qty=ln.qty, unit_price=ln.unit_price)
                for ln in order.lines
            ],
        )
        self._attrs = attrs.SearchAttributeSync.from_start()
        # The saga has begun: nothing new is started, retries of requests stop.
        self.winding_down = False

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def currency(self) -> str:
        return self.state.order_value.currency

    def line(self, line_id: str) -> LineState:
        return bk.line(self.state, line_id)

    def terminal(self) -> bool:
        return self.state.status in bk.TERMINAL or self.winding_down

    def event(self, kind: str, message: str, shipment_id: str | None = None) -> None:
        self.state.timeline.append(
            TimelineEvent(at=workflow.now(), kind=kind, message=message, shipment_id=shipment_id)
        )

    def escalate(self, message: str) -> None:
        self.state.escalations.append(message)
        self.event("escalated", message)
        self.refresh()

    def stop(self, status: OrderStatus, reason: str) -> None:
        self.state.status = status
        self.state.stop_reason = reason
        self.event(status.value, reason)
        self.refresh()

    def refresh(self) -> None:
        """Keep status, search attributes and UI details in step with the state."""
        st = self.state
        st.status = bk.derive_status(st)
        self._attrs.sync(
            [
                (attrs.ORDER_STATUS, st.status.value),
                (attrs.SALES_CHANNEL, st.channel),
                (attrs.CUSTOMER_ID, st.customer_id),
                (attrs.CUSTOMER_TIER, st.customer_tier),
                (attrs.ORDER_VALUE, float(st.order_value.amount)),
                (attrs.FULFILLMENT_NODES, bk.active_nodes(st)),
                (attrs.BACKORDERED, any(ln.backordered for ln in st.lines)),
                (attrs.ESCALATED, bool(st.escalations)),
            ]
        )
        workflow.set_current_details(bk.details_markdown(st))
