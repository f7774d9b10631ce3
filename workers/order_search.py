"""Orders listed from Temporal visibility (search attributes), without a query to any workflow.

`OrderFilters` holds validated filters; `visibility_query` turns them into a visibility query
in which every value is checked against a strict pattern (or is an enum member, a bool or a
datetime) and then quoted, so no user input reaches the query as syntax. `list_orders` reads one
page; its cursor is the server's next_page_token, wrapped with the query it belongs to.

Order of the results: `ORDER BY StartTime DESC, WorkflowId` where the visibility store supports
it (Elasticsearch). The dev server's SQL visibility refuses ORDER BY; there the server's own
order is used, which is just as stable: open orders first, then closed ones by close time, each
newest first (start time, then run id, break ties). `OrderPage.sort` says which one applied.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import weakref
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from dom_workflows.order import names
from dom_workflows.order import search_attributes as attrs
from dom_workflows.order.models import ORDER_WORKFLOW_ID_PREFIX, OrderStatus

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Channel, customer and node ids: letters, digits and a few separators; never a quote.
TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}$")
SORT_START_TIME = "start_time_desc"
SORT_SERVER = "server_default"
ORDER_BY = " ORDER BY StartTime DESC, WorkflowId ASC"

# Clients whose visibility store refused ORDER BY (SQL visibility): asked once per client.
_no_order_by: weakref.WeakSet[Client] = weakref.WeakSet()


class InvalidFilter(ValueError):
    """A filter or cursor that cannot be used; the message says why (a 422 at the API)."""


class OrderFilters(BaseModel):
    status: list[OrderStatus] = Field(default_factory=list)
    channel: str | None = None
    customer: str | None = None
    node: str | None = None
    escalated: bool | None = None
    backordered: bool | None = None
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None


class OrderSummary(BaseModel):
    """One order as visibility sees it: search attributes and the execution's times only."""

    order_id: str
    workflow_id: str
    status: str | None = Field(description="OrderStatus search attribute")
    channel: str | None
    customer_id: str | None
    tier: str | None
    value: str | None = Field(
        description="OrderValue in the order's currency, two decimals (a float attribute)"
    )
    currency: str | None = Field(description="OrderCurrency: ISO 4217 code of `value`")
    nodes: list[str]
    escalated: bool
    backordered: bool
    started_at: datetime | None
    closed_at: datetime | None
    execution_status: str | None = Field(description="RUNNING, COMPLETED, FAILED, ...")


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")
    sort: str = Field(description=f"{SORT_START_TIME!r} or {SORT_SERVER!r} (see docs/api.md)")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _token(name: str, value: str) -> str:
    if not TOKEN.fullmatch(value):
        raise InvalidFilter(
            f"{name} {value[:130]!r} is not a valid id (letters, digits and . _ : @ + / -, "
            "at most 128 characters)"
        )
    return _quote(value)


def _time(value: datetime) -> str:
    return _quote(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _flag(name: str, value: bool) -> str:
    # The workflow sets its flags at its first state change; before that they are unset.
    return f"{name} = true" if value else f"({name} = false OR {name} IS NULL)"


def visibility_query(f: OrderFilters) -> str:
    """The visibility query for validated filters (raises InvalidFilter)."""
    parts = [f"WorkflowType = {_quote(names.WORKFLOW_TYPE)}"]
    if f.status:
        values = ", ".join(_quote(OrderStatus(s).value) for s in dict.fromkeys(f.status))
        parts.append(f"{attrs.ORDER_STATUS.name} IN ({values})")
    if f.channel is not None:
        parts.append(f"{attrs.SALES_CHANNEL.name} = {_token('channel', f.channel)}")
    if f.customer is not None:
        parts.append(f"{attrs.CUSTOMER_ID.name} = {_token('customer', f.customer)}")
    if f.node is not None:
        parts.append(f"{attrs.FULFILLMENT_NODES.name} = {_token('node', f.node)}")
    if f.escalated is not None:
        parts.append(_flag(attrs.ESCALATED.name, f.escalated))
    if f.backordered is not None:
        parts.append(_flag(attrs.BACKORDERED.name, f.backordered))
    if f.created_from and f.created_to and f.created_from > f.created_to:
        raise InvalidFilter("created_from is after created_to")
    if f.created_from is not None:
        parts.append(f"StartTime >= {_time(f.created_from)}")
    if f.created_to is not None:
        parts.append(f"StartTime <= {_time(f.created_to)}")
    return " AND ".join(parts)


def _fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode_cursor(query: str, sort: str, token: bytes) -> str:
    doc = {"q": _fingerprint(query), "s": sort, "t": base64.b64encode(token).decode()}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, query: str) -> tuple[str, bytes]:
    """(sort, next_page_token) from a cursor made for this same query."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        sort, token, fp = doc["s"], base64.b64decode(doc["t"], validate=True), doc["q"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidFilter("cursor is not one this API returned") from None
    if sort not in (SORT_START_TIME, SORT_SERVER) or not token:
        raise InvalidFilter("cursor is not one this API returned")
    if fp != _fingerprint(query):
        raise InvalidFilter("cursor belongs to other filters; start again without it")
    return sort, token


def summary(wf: WorkflowExecution) -> OrderSummary:
    sa = wf.typed_search_attributes
    value = sa.get(attrs.ORDER_VALUE)
    return OrderSummary(
        order_id=wf.id.removeprefix(ORDER_WORKFLOW_ID_PREFIX),
        workflow_id=wf.id,
        status=sa.get(attrs.ORDER_STATUS),
        channel=sa.get(attrs.SALES_CHANNEL),
        customer_id=sa.get(attrs.CUSTOMER_ID),
        tier=sa.get(attrs.CUSTOMER_TIER),
        value=f"{value:.2f}" if value is not None else None,
        currency=sa.get(attrs.ORDER_CURRENCY),
        nodes=list(sa.get(attrs.FULFILLMENT_NODES) or []),
        escalated=bool(sa.get(attrs.ESCALATED)),
        backordered=bool(sa.get(attrs.BACKORDERED)),
        started_at=wf.start_time,
        closed_at=wf.close_time,
        execution_status=wf.status.name if wf.status else None,
    )


async def _page(
    client: Client, query: str, limit: int, token: bytes | None
) -> tuple[list[WorkflowExecution], bytes | None]:
    it = client.list_workflows(query, page_size=limit, next_page_token=token)
    await it.fetch_next_page()
    return list(it.current_page or []), it.next_page_token


def _order_by_refused(e: RPCError) -> bool:
    return e.status == RPCStatusCode.INVALID_ARGUMENT and "order by" in e.message.lower()


async def list_orders(
    client: Client, filters: OrderFilters, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> OrderPage:
    """One page of orders matching `filters` (raises InvalidFilter, or RPCError from Temporal)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidFilter(f"limit must be between 1 and {MAX_LIMIT}")
    query = visibility_query(filters)
    sort, token = decode_cursor(cursor, query) if cursor else (None, None)
    if sort is None:
        sort = SORT_SERVER if client in _no_order_by else SORT_START_TIME
    try:
        found, next_token = await _page(
            client, query + ORDER_BY if sort == SORT_START_TIME else query, limit, token
        )
    except RPCError as e:
        if sort != SORT_START_TIME or token or not _order_by_refused(e):
            raise
        _no_order_by.add(client)
        sort = SORT_SERVER
        found, next_token = await _page(client, query, limit, token)
    return OrderPage(
        items=[summary(wf) for wf in found],
        next_cursor=encode_cursor(query, sort, next_token) if next_token else None,
        sort=sort,
    )
