"""The one error type callers of the routing package need to catch."""

from __future__ import annotations


class RoutingError(ValueError):
    """The scenario cannot be routed as given (unknown SKU, ZIP, pickup node, ...).

    The message names the offending value so that a person can fix the input.
    """
