"""The one error type callers of the routing package need to catch."""

from __future__ import annotations

from pydantic import ValidationError


class RoutingError(ValueError):
    """The scenario cannot be routed as given (unknown SKU, ZIP, pickup node, ...).

    The message names the offending value so that a person can fix the input.
    """


def describe_validation_error(what: str, exc: ValidationError) -> str:
    """One line per problem, with the JSON path, e.g. `order.lines.0.qty: ...`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid {what}: " + "; ".join(parts)
