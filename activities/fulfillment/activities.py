"""Fulfilment-node adapter: tells a warehouse, 3PL, store or supplier what to ship, over HTTP.

Each call carries an Idempotency-Key, so a retried activity never creates a second request at
the node. Nodes without an endpoint use the local no-op adapter (the demo without partners);
their progress then arrives through `dom shipment event` or the API like any partner's.
"""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common.partner_http import PartnerHttp
from dom_workflows.common import errors
from dom_workflows.fulfillment.models import (
    AmendFulfillment,
    CancelFulfillment,
    FulfillmentRequest,
    NodeAck,
)
from dom_workflows.network import Network

NODE_REFUSED = errors.NODE_REFUSED
NODE_UNAVAILABLE = "NodeUnavailable"


class FulfillmentActivities:
    def __init__(self, network: Network, http: httpx.AsyncClient) -> None:
        self.network = network
        self.http = http

    async def _post(
        self, endpoint: str, path: str, key: str, body: dict[str, object]
    ) -> httpx.Response:
        # One attempt per activity attempt: Temporal's retry policy does the backing off.
        api = PartnerHttp(self.http, endpoint, unavailable_type=NODE_UNAVAILABLE, attempts=1)
        return await api.post(path, key, body)

    @activity.defn
    async def instruct_node(self, req: FulfillmentRequest) -> NodeAck:
        node = self.network.node(req.node)
        if not node.endpoint:
            return NodeAck(shipment_id=req.shipment_id, node=req.node, adapter="noop")
        response = await self._post(
            node.endpoint, "fulfillment-requests", req.shipment_id, req.model_dump(mode="json")
        )
        if response.status_code in (200, 201, 202, 409):  # 409: the node already has it
            return NodeAck(
                shipment_id=req.shipment_id,
                node=req.node,
                adapter="http",
                status_code=response.status_code,
            )
        raise ApplicationError(
            f"{req.node} refused fulfilment request {req.shipment_id}: "
            f"{response.status_code} {response.text[:300]}",
            type=NODE_REFUSED,
            non_retryable=True,
        )

    @activity.defn
    async def amend_at_node(self, req: AmendFulfillment) -> NodeAck:
        """Tell the node to ship fewer units. 409 (already shipped) is refused: those units
        are gone, and the workflow must not pretend otherwise."""
        node = self.network.node(req.node)
        if not node.endpoint:
            return NodeAck(shipment_id=req.shipment_id, node=req.node, adapter="noop")
        response = await self._post(
            node.endpoint,
            f"fulfillment-requests/{req.shipment_id}/amend",
            req.idempotency_key(),
            req.model_dump(mode="json"),
        )
        if response.status_code in (200, 202, 204):
            return NodeAck(
                shipment_id=req.shipment_id,
                node=req.node,
                adapter="http",
                status_code=response.status_code,
            )
        raise ApplicationError(
            f"{req.node} refused to amend {req.shipment_id}: {response.status_code} "
            f"{response.text[:200]}",
            type=NODE_REFUSED,
            non_retryable=True,
        )

    @activity.defn
    async def cancel_at_node(self, req: CancelFulfillment) -> NodeAck:
        node = self.network.node(req.node)
        if not node.endpoint:
            return NodeAck(shipment_id=req.shipment_id, node=req.node, adapter="noop")
        response = await self._post(
            node.endpoint,
            f"fulfillment-requests/{req.shipment_id}/cancel",
            f"cancel:{req.shipment_id}",
            req.model_dump(mode="json"),
        )
        # 404: the node has nothing under that id, so nothing is left to cancel. 409 is not
        # success: the node says it is too late (shipped), and treating it as cancelled
        # would re-route units that are already on their way -- a second parcel. Except a 409
        # saying the node rejected the request itself: nothing will ship, and the ack's 409
        # tells the order the node refused it (its rejection event may have been lost).
        if response.status_code in (200, 202, 204, 404) or _rejected(response):
            return NodeAck(
                shipment_id=req.shipment_id,
                node=req.node,
                adapter="http",
                status_code=response.status_code,
                detail=response.text[:300],
            )
        raise ApplicationError(
            f"{req.node} refused to cancel {req.shipment_id}: {response.status_code} "
            f"{response.text[:200]}",
            type=NODE_REFUSED,
            non_retryable=True,
        )


def _rejected(response: httpx.Response) -> bool:
    """A 409 to a cancel whose body says the node rejected the request itself."""
    if response.status_code != 409:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "rejected"
