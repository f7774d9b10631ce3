"""The names other processes and workflows use to talk to an OrderWorkflow.

Senders (the API, the backorder and consolidation workflows) address the order by these names,
so none of them has to import the workflow class."""

WORKFLOW_TYPE = "OrderWorkflow"

# Signals
SHIPMENT_EVENT = "shipment_event"  # a node's, supplier's or carrier's report
STOCK_AVAILABLE = "backorder_stock"  # the backorder child: stock for a waiting SKU arrived
CONSOLIDATED = "consolidated"  # the consolidation group: ship as one parcel with these
INBOUND_CHANGED = "inbound_changed"  # inbound the order pre-ordered against is late or cancelled

# Updates
CANCEL = "cancel"
PLACE_HOLD = "place_hold"
RELEASE_HOLD = "release_hold"
UPDATE_PAYMENT = "update_payment"

# Queries
STATE = "state"
