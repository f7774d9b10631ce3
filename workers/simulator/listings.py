"""What partners hold, listed the way real partner APIs serve it for reconciliation.

`GET /nodes/{node}/fulfillment-requests`, `/payments/authorizations`, `/payments/captures`,
`/payments/refunds` and `/carrier/labels`, each with `?since=` (records changed at or after this
timezone-aware ISO time), `?limit=` (1..500, default 100) and `?cursor=` (opaque, from the
previous page's `next_cursor`; null on the last page). Records are served in the order they were
created, so a cursor stays valid while new records arrive: they appear on later pages.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from fastapi.responses import JSONResponse

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
STATUSES = ("received", "accepted", "stalled", "rejected", "shipped", "delivered", "cancelled")


class BadQuery(ValueError):
    """A listing parameter that cannot be used: 422 with the reason."""


def parse_since(raw: str | None) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"since={raw!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise BadQuery(f"since={raw!r} needs a time zone (e.g. +00:00 or Z)")
    return at


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadQuery(f"limit={raw!r}: a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode()


def decode_cursor(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(raw.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadQuery(f"cursor={raw!r} is not a cursor this API gave out") from None
    if not text.startswith("p") or not text[1:].isdigit():
        raise BadQuery(f"cursor={raw!r} is not a cursor this API gave out")
    return int(text[1:])


def page(
    records: Sequence[T],
    *,
    since: datetime | None,
    cursor: int,
    limit: int,
    changed_at: Callable[[T], datetime],
    view: Callable[[T], dict[str, Any]],
    keep: Callable[[T], bool] = lambda _: True,
) -> dict[str, Any]:
    """One page of `records` (creation order) from position `cursor` on."""
    items: list[dict[str, Any]] = []
    position = cursor
    while position < len(records) and len(items) < limit:
        record = records[position]
        position += 1
        if keep(record) and (since is None or changed_at(record) >= since):
            items.append(view(record))
    more = position < len(records)
    return {"items": items, "next_cursor": encode_cursor(position) if more else None}


def listing(
    records: Iterable[T],
    query: dict[str, str],
    *,
    changed_at: Callable[[T], datetime],
    view: Callable[[T], dict[str, Any]],
    keep: Callable[[T], bool] = lambda _: True,
) -> JSONResponse:
    """Parse the query, serve one page; a bad parameter is a 422 that says which and why."""
    try:
        body = page(
            list(records),
            since=parse_since(query.get("since")),
            cursor=decode_cursor(query.get("cursor")),
            limit=parse_limit(query.get("limit")),
            changed_at=changed_at,
            view=view,
            keep=keep,
        )
    except BadQuery as e:
        return JSONResponse({"error": str(e)}, status_code=422)
    return JSONResponse(body)


def iso(raw: object) -> datetime:
    """A record's stored ISO time (labels keep theirs as text, like their wire form)."""
    return datetime.fromisoformat(str(raw))
