"""The DOM's HTTP edge: orders, cancellations, ATP, partner webhooks and sales channels."""
