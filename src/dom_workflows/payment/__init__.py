"""Payment provider messages: authorize, capture per shipment, void, refund; always Money."""
