"""Domain metrics read off activity inputs, results and errors: SLA breaches by node and
stage, refusals, backorders, the first plan's split and cost."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import REGISTRY
from temporalio.exceptions import ApplicationError

from dom_workflows.fulfillment.models import CancelFulfillment, FulfillmentRequest
from dom_workflows.inventory.models import ReserveAndRouteResult
from workers.observability.activity_metrics import ActivityObservation
from workers.observability.metrics import node_of_shipment, reason_of

OBS = ActivityObservation("USD")


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def cancel(reason: str, node: str = "wh-obs-1") -> CancelFulfillment:
    return CancelFulfillment(shipment_id=f"O-1:1:{node}", order_id="O-1", node=node, reason=reason)


def test_sla_breaches_count_by_node_and_stage_once_per_cancel() -> None:
    name = "dom_sla_breaches_total"
    accept0 = value(name, node="wh-obs-1", stage="accept")
    ship0 = value(name, node="wh-obs-1", stage="ship")
    breach = "SLA breach at wh-obs-1: not accepted within 4:00:00"
    OBS.record("cancel_at_node", [cancel(breach)], None, None, 0.1, attempt=1, channel="web")
    OBS.record("cancel_at_node", [cancel(breach)], None, None, 0.1, attempt=2, channel="web")
    shipped = "SLA breach at wh-obs-1: not shipped within 1 day, 0:00:00 of acceptance"
    OBS.record("cancel_at_node", [cancel(shipped)], None, None, 0.1, attempt=1, channel="web")
    OBS.record(
        "cancel_at_node", [cancel("cancelled: customer")], None, None, 0.1, attempt=1, channel="web"
    )
    assert value(name, node="wh-obs-1", stage="accept") - accept0 == 1
    assert value(name, node="wh-obs-1", stage="ship") - ship0 == 1


def test_a_request_the_node_refuses_outright_is_a_rejection() -> None:
    name = "dom_shipment_rejections_total"
    before = value(name, node="wh-obs-2", reason="refused_request")
    req = FulfillmentRequest.model_construct(
        shipment_id="O-2:1:wh-obs-2", order_id="O-2", node="wh-obs-2"
    )
    refused = ApplicationError("no", type="NodeRefused", non_retryable=True)
    OBS.record("instruct_node", [req], None, refused, 0.2, attempt=1, channel="web")
    OBS.record(
        "instruct_node",
        [req],
        None,
        ApplicationError("down", type="NodeUnavailable"),
        0.2,
        attempt=1,
        channel="web",
    )
    assert value(name, node="wh-obs-2", reason="refused_request") - before == 1


def test_routing_counts_backorders_and_the_first_plan_only() -> None:
    result = ReserveAndRouteResult.model_validate(
        {
            "order_id": "O-3",
            "attempt": 1,
            "strategy": "optimal",
            "total_cost": "12.50",
            "summary": "",
            "plan": {},
            "fulfillments": [
                {
                    "shipment_id": f"O-3:1:{node}",
                    "node": node,
                    "node_type": "warehouse",
                    "service": "ground",
                    "lines": [{"line_id": "1", "sku": "S", "qty": 1}],
                    "sla": {"accept_within": 60, "ship_within": 60, "deliver_within": 60},
                    "shipping_cost": "4.00",
                    "handling_cost": "1.50",
                }
                for node in ("wh-obs-3", "wh-obs-4")
            ],
            "backordered": [{"line_id": "2", "sku": "T", "qty": 3}],
        }
    )
    count0 = value("dom_order_shipments_count")
    sum0 = value("dom_order_fulfilment_cost_sum", currency="USD")
    bo0, units0 = value("dom_backorders_total"), value("dom_backordered_units_total")
    OBS.record("reserve_and_route", [], result, None, 0.03, attempt=1, channel="web")
    again = result.model_copy(update={"attempt": 2})
    OBS.record("reserve_and_route", [], again, None, 0.03, attempt=1, channel="web")
    assert value("dom_order_shipments_count") - count0 == 1
    assert value("dom_order_fulfilment_cost_sum", currency="USD") - sum0 == float(Decimal("11.00"))
    assert value("dom_backorders_total") - bo0 == 2
    assert value("dom_backordered_units_total") - units0 == 6
    assert value("dom_shipments_planned_total", node="wh-obs-4") >= 2


def test_free_text_reasons_and_ids_never_become_label_values() -> None:
    assert reason_of("stock discrepancy at cycle count") == "stock"
    assert reason_of("node at capacity for today's wave") == "capacity"
    assert reason_of("item damaged on pick") == "damaged"
    assert reason_of("the moon is full") == "other"
    assert reason_of(None) == "unspecified"
    assert node_of_shipment("WEB-1:2:wh-dallas") == "wh-dallas"
    assert node_of_shipment("garbage") == "unknown"


def test_the_exposition_has_no_created_timestamp_series() -> None:
    from prometheus_client import generate_latest

    from workers.observability import metrics

    metrics.ORDERS_RECEIVED.labels(channel="web").inc(0)
    text = generate_latest(REGISTRY).decode()
    assert "dom_orders_received_total{" in text
    assert "_created{" not in text
