"""Cart holds: units a shopping cart keeps out of ATP until it expires, is released, or becomes an
order's reservation."""
