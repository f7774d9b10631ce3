"""Custom search attributes that let ops filter orders in the Temporal UI and `temporal workflow list`.

The workflow keeps them current at every state change; the dev launcher and `dom setup` register them.
"""

from typing import Any

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
SALES_CHANNEL = SearchAttributeKey.for_keyword("SalesChannel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
CUSTOMER_TIER = SearchAttributeKey.for_keyword("CustomerTier")
FULFILLMENT_NODES = SearchAttributeKey.for_keyword_list("FulfillmentNodes")
ORDER_VALUE = SearchAttributeKey.for_float("OrderValue")
BACKORDERED = SearchAttributeKey.for_bool("Backordered")
ESCALATED = SearchAttributeKey.for_bool("Escalated")

ALL: list[SearchAttributeKey[Any]] = [
    ORDER_STATUS,
    SALES_CHANNEL,
    CUSTOMER_ID,
    CUSTOMER_TIER,
    FULFILLMENT_NODES,
    ORDER_VALUE,
    BACKORDERED,
    ESCALATED,
]
