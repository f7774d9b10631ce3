"""Order validation: everything that needs the catalog or the ZIP data set, so the workflow can
refuse a bad order with one clear InvalidOrder failure before anything is reserved."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.inventory import schema
from dom_workflows.geo import UnknownZip, geocode_zip
from dom_workflows.inventory.models import ValidatedOrder
from dom_workflows.network import Network
from dom_workflows.order.models import OrderRequest, PartnerSetup

INVALID_ORDER = "InvalidOrder"


def invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=INVALID_ORDER, non_retryable=True)


class OrderActivities:
    def __init__(
        self, engine: AsyncEngine, network: Network, partners: PartnerSetup | None = None
    ) -> None:
        self.engine = engine
        self.network = network
        self.partners = partners or PartnerSetup()

    @activity.defn
    async def validate_order(self, order: OrderRequest) -> ValidatedOrder:
        problems = check_lines(order)
        async with self.engine.connect() as conn:
            known = set(
                (
                    await conn.execute(
                        sa.select(schema.skus.c.sku).where(
                            schema.skus.c.sku.in_([ln.sku for ln in order.lines])
                        )
                    )
                ).scalars()
            )
        problems += [
            f"line {ln.line_id}: unknown SKU {ln.sku!r}"
            for ln in order.lines
            if ln.sku not in known
        ]
        destination: tuple[float, float, str | None, str | None] | None = None
        if order.delivery == "pickup":
            node = next((n for n in self.network.nodes if n.id == order.pickup_node), None)
            if node is None:
                problems.append(f"pickup node {order.pickup_node!r} is not a node of the network")
            elif not node.pickup:
                problems.append(f"node {node.id} does not offer store pickup")
            else:
                destination = (node.lat, node.lon, node.state, node.zip)
        else:
            destination, problem = locate(order)
            if problem:
                problems.append(problem)
        if problems or destination is None:
            raise invalid(f"order {order.order_id} is invalid: " + "; ".join(problems))
        lat, lon, state, zip_code = destination
        policy = self.network.order_policy
        value = order.value()
        review = None
        if policy.fraud_review_value is not None and value.amount >= policy.fraud_review_value:
            review = f"order value {value} is at or above the review threshold"
        elif "fraud-review" in order.tags:
            review = "the channel flagged the order for review"
        return ValidatedOrder(
            ship_to_lat=lat,
            ship_to_lon=lon,
            ship_to_state=state,
            ship_to_zip=zip_code,
            order_value=value,
            policy=policy,
            review_reason=review,
            partners=self.partners,
        )


def check_lines(order: OrderRequest) -> list[str]:
    problems: list[str] = []
    if not order.lines:
        problems.append("the order has no lines")
    seen: set[str] = set()
    amounts = [ln.unit_price for ln in order.lines]
    amounts += [m for ln in order.lines for m in (ln.discount, ln.tax) if m is not None]
    totals = (order.paid, order.shipping, order.tax_total, order.discount_total, order.grand_total)
    amounts += [m for m in totals if m is not None]
    currencies = {m.currency for m in amounts}
    if len(currencies) > 1:
        problems.append(f"lines mix currencies {sorted(currencies)}")
    for ln in order.lines:
        if ln.line_id in seen:
            problems.append(f"line id {ln.line_id!r} appears twice")
        seen.add(ln.line_id)
        if ln.qty <= 0:
            problems.append(f"line {ln.line_id}: quantity must be at least 1, got {ln.qty}")
        if ln.unit_price.amount < 0:
            problems.append(f"line {ln.line_id}: unit price is negative")
        for what, m in (("discount", ln.discount), ("tax", ln.tax)):
            if m is not None and m.amount < 0:
                problems.append(f"line {ln.line_id}: {what} is negative")
        if ln.discount is not None and ln.discount.amount > ln.unit_price.times(ln.qty).amount:
            problems.append(f"line {ln.line_id}: discount {ln.discount} exceeds the line's price")
    if order.delivery == "pickup" and not order.pickup_node:
        problems.append("a pickup order needs pickup_node")
    return problems


def locate(order: OrderRequest) -> tuple[tuple[float, float, str | None, str | None] | None, str]:
    """Geocode the ship-to address; returns (point, problem)."""
    addr = order.ship_to
    if addr is None:
        return None, "ship_to address is missing"
    if addr.country.upper() not in ("US", "USA"):
        return None, f"ship_to country {addr.country!r} is not served (US only)"
    if addr.lat is not None and addr.lon is not None:
        if not (-90 <= addr.lat <= 90 and -180 <= addr.lon <= 180):
            return None, f"ship_to coordinates ({addr.lat}, {addr.lon}) are out of range"
        return (addr.lat, addr.lon, addr.state, addr.zip), ""
    if not addr.zip:
        return None, "ship_to has neither a ZIP code nor coordinates"
    try:
        point = geocode_zip(addr.zip)
    except UnknownZip as e:
        return None, f"ship_to cannot be geocoded: {e}"
    return (point.lat, point.lon, addr.state or point.state, addr.zip), ""
