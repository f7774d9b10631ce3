"""Over-return protection in the database, on SQLite and PostgreSQL: concurrent RMAs of one
order can never take back more units than were delivered; expiry and receipt free units."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.returns import store
from dom_workflows.returns.models import GradedLine

DELIVERED = [
    store.Delivered("1", "O-1:1:wh-reno", 2, "cap_a"),
    store.Delivered("1", "O-1:2:wh-dallas", 1, "cap_b"),
    store.Delivered("2", "O-1:1:wh-reno", 1, "cap_a"),
]


async def _open(
    engine: AsyncEngine, n: int, qty: int, line: str = "1", order: str = "O-1"
) -> dict[str, list[object]] | str:
    try:
        got = await store.open_rma(
            engine,
            rma_id=f"RMA-{order}-{n}",
            order_id=order,
            seq=n,
            exchange=False,
            lines=[store.RmaLine(line, "BOOT-HIKE-9", qty)],
            delivered=DELIVERED,
        )
        return dict(got)  # type: ignore[arg-type]
    except store.OverReturn as e:
        return str(e)


async def test_concurrent_rmas_never_over_return(ledger_engine: AsyncEngine) -> None:
    # 3 units of line 1 were delivered; 12 concurrent RMAs each ask for one.
    results = await asyncio.gather(*(_open(ledger_engine, n, 1) for n in range(1, 13)))
    opened = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, str)]
    assert len(opened) == 3 and len(refused) == 9
    assert all("only 0 of the 3 delivered" in r for r in refused)
    # Oldest shipment first: two units from the first shipment, one from the second.
    shipments = sorted(a.shipment_id for r in opened for a in r["1"])  # type: ignore[attr-defined]
    assert shipments == ["O-1:1:wh-reno", "O-1:1:wh-reno", "O-1:2:wh-dallas"]
    # Refused RMAs left nothing behind, not even a header.
    for n in range(1, 13):
        rows = await store.lines_of(ledger_engine, f"RMA-O-1-{n}")
        assert sum(r["qty"] for r in rows) <= 1
    total = 0
    for n in range(1, 13):
        total += sum(r["qty"] for r in await store.lines_of(ledger_engine, f"RMA-O-1-{n}"))
    assert total == 3


async def test_concurrent_multi_unit_rmas_respect_the_line_total(
    ledger_engine: AsyncEngine,
) -> None:
    results = await asyncio.gather(*(_open(ledger_engine, n, 2) for n in range(1, 7)))
    assert sum(1 for r in results if isinstance(r, dict)) == 1  # 2 + 2 > 3
    again = await _open(ledger_engine, 50, 1)
    assert isinstance(again, dict)  # the third unit is still returnable
    assert isinstance(await _open(ledger_engine, 51, 1), str)


async def test_retry_returns_the_same_allocation_and_other_requests_are_refused(
    ledger_engine: AsyncEngine,
) -> None:
    first = await _open(ledger_engine, 1, 2)
    assert await _open(ledger_engine, 1, 2) == first  # an activity retry
    with pytest.raises(store.RmaTaken):
        await store.open_rma(
            ledger_engine,
            rma_id="RMA-O-1-1",
            order_id="O-1",
            seq=1,
            exchange=False,
            lines=[store.RmaLine("2", "X", 1)],
            delivered=DELIVERED,
        )


async def test_expired_and_partly_received_units_can_be_returned_again(
    ledger_engine: AsyncEngine,
) -> None:
    assert isinstance(await _open(ledger_engine, 1, 3), dict)
    assert isinstance(await _open(ledger_engine, 2, 1), str)
    assert await store.expire(ledger_engine, "RMA-O-1-1") == 3
    assert (await store.header(ledger_engine, "RMA-O-1-1") or {})["status"] == "expired"
    assert isinstance(await _open(ledger_engine, 2, 3), dict)
    # Only 1 of the 3 came back: the other 2 are free for a later RMA.
    graded = [GradedLine(line_id="1", sku="BOOT-HIKE-9", received=1, resell=1)]
    assert await store.record_receipt(ledger_engine, "RMA-O-1-2", graded) is True
    assert await store.record_receipt(ledger_engine, "RMA-O-1-2", graded) is False  # retry
    rows = await store.lines_of(ledger_engine, "RMA-O-1-2")
    assert [(r["status"], r["received_qty"], r["resell"]) for r in rows] == [
        ("received", 1, 1),
        ("received", 0, 0),
    ]
    assert isinstance(await _open(ledger_engine, 3, 2), dict)
    assert isinstance(await _open(ledger_engine, 4, 1), str)


async def test_other_orders_and_lines_are_independent(ledger_engine: AsyncEngine) -> None:
    results = await asyncio.gather(
        _open(ledger_engine, 1, 3),
        _open(ledger_engine, 2, 1, line="2"),
        _open(ledger_engine, 1, 3, order="O-2"),
    )
    assert all(isinstance(r, dict) for r in results)
