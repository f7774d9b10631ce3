"""A Temporal client for the quick read-only commands (`dom order show`), without the imports of
workers.client: that module brings in every workflow definition, which more than doubles the
start-up of a command that only asks an order for its state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.cli.common import settings

if TYPE_CHECKING:
    from temporalio.client import Client

    from dom_workflows.order.models import OrderState


async def connect() -> Client:
    """Connected as workers.client.connect does (address, namespace, API key, TLS, the DOM's
    data converter), minus the services' tracing and metrics."""
    from temporalio.client import Client

    from workers.data_converter import DATA_CONVERTER

    s = settings()
    return await Client.connect(
        s.temporal_address,
        namespace=s.temporal_namespace,
        api_key=s.temporal_api_key,
        tls=s.temporal_tls,
        data_converter=DATA_CONVERTER,
    )


async def order_state(order_id: str) -> OrderState:
    """The order workflow's `state` query; OrderMissing when there is no such order."""
    from temporalio.service import RPCError, RPCStatusCode

    from dom_workflows.order import names
    from dom_workflows.order.models import OrderState, order_workflow_id

    client = await connect()
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        return await handle.query(names.STATE, result_type=OrderState)
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise OrderMissing(f"order {order_id} does not exist") from None
        raise


class OrderMissing(LookupError):
    """No workflow for this order id (exit code 3, like workers.client.OrderNotFound)."""
