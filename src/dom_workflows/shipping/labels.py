"""Rate-shop, then buy the cheapest label: the one way orders (ship-from-store) and returns
(return labels) get a label. Workflow code: call it from inside a workflow."""

from __future__ import annotations

from temporalio import workflow

from dom_workflows.common.retry import CARRIER

with workflow.unsafe.imports_passed_through():
    from activities.carrier.activities import CarrierActivities
    from dom_workflows.shipping.models import Label, LabelRequest, RateRequest


async def buy_cheapest_label(
    rate: RateRequest, *, what: str, is_return: bool = False
) -> Label | None:
    """The cheapest quoted label for `rate`'s parcel; None when no carrier quotes it.
    A carrier failure raises ActivityError: the caller decides whom to tell."""
    quotes = await workflow.execute_activity_method(
        CarrierActivities.rate_shop,
        rate,
        **CARRIER,
        summary=f"rate-shop {what} ({rate.parcel.weight_lb} lb)",
    )
    best = quotes.best
    if best is None:
        return None
    return await workflow.execute_activity_method(
        CarrierActivities.purchase_label,
        LabelRequest(
            shipment_id=rate.shipment_id,
            order_id=rate.order_id,
            carrier=best.carrier,
            service=best.service,
            ship_from=rate.ship_from,
            ship_to=rate.ship_to,
            parcel=rate.parcel,
            rate_id=best.rate_id,
            is_return=is_return,
        ),
        **CARRIER,
        summary=f"buy a {best.carrier} {best.service} label for {what}",
    )
