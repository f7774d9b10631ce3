"""Custom search attributes that let ops filter orders in the Temporal UI and `temporal workflow list`.

The workflow keeps them current at every state change, upserting only the keys whose value
changed; the dev launcher and `dom setup` register them."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
SALES_CHANNEL = SearchAttributeKey.for_keyword("SalesChannel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CUSTOMER_TIER = SearchAttributeKey.for_keyword("CustomerTier")
FULFILLMENT_NODES = SearchAttributeKey.for_keyword_list("FulfillmentNodes")
ORDER_VALUE = SearchAttributeKey.for_float("OrderValue")
# The currency of OrderValue (a Double cannot carry it); set once, when the order starts.
ORDER_CURRENCY = SearchAttributeKey.for_keyword("OrderCurrency")
BACKORDERED = SearchAttributeKey.for_bool("Backordered")
ESCALATED = SearchAttributeKey.for_bool("Escalated")

ALL: list[SearchAttributeKey[Any]] = [
    ORDER_STATUS,
    SALES_CHANNEL,
    CUSTOMER_ID,
    CUSTOMER_TIER,
    FULFILLMENT_NODES,
    ORDER_VALUE,
    ORDER_CURRENCY,
    BACKORDERED,
    ESCALATED,
]


class SearchAttributeSync:
    """Remembers what the workflow last told Temporal and upserts only what changed: every
    upsert is a command and a history event, and most state changes touch one key or none."""

    def __init__(self, started_with: dict[str, Any]) -> None:
        self._sent: dict[str, Any] = dict(started_with)

    @classmethod
    def from_start(cls) -> SearchAttributeSync:
        """Start from what the workflow was started with (the client sets some at start)."""
        started = workflow.info().typed_search_attributes
        return cls({k.name: started.get(k) for k in ALL if started.get(k) is not None})

    def sync(self, values: list[tuple[SearchAttributeKey[Any], Any]]) -> None:
        changed: list[SearchAttributeUpdate[Any]] = []
        for key, value in values:
            if self._sent.get(key.name) != value:
                self._sent[key.name] = value
                changed.append(key.value_set(value))
        if changed:
            workflow.upsert_search_attributes(changed)
