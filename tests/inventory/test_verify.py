"""`verify` finds each broken invariant (made by a direct SQL write) on SQLite and PostgreSQL and
nothing on a ledger changed only through its own functions; `verify_workflows` finds orders whose
workflow is closed or gone; `dom inventory verify` exits 0 / 1 / 2."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.inventory import ledger, schema
from activities.inventory.db import create_engine, is_sqlite, migrate, seed_network
from activities.inventory.feeds import apply_feed
from activities.inventory.outbound import record_unplanned_outbound
from activities.inventory.verify import verify, verify_workflows
from dom_workflows.inventory.models import CloseOrderInput, InventoryReceipt, ReleaseInput
from dom_workflows.network import Network
from dom_workflows.partners.models import InventoryFeed
from workers.cli.inventory import inventory_app

SKU = "TREK-POLES"
pos = schema.inventory_positions


async def _reserve(engine: AsyncEngine, order: str, node: str, qty: int) -> None:
    async with engine.begin() as conn:
        await ledger.reserve(
            conn, order, 1, [ledger.Allocation(f"{order}:1:{node}", node, SKU, "1", qty)]
        )


async def _busy_ledger(engine: AsyncEngine) -> None:
    """Every kind of write the ledger makes, through its own functions."""
    await _reserve(engine, "V-1", "wh-reno", 4)
    await ledger.consume(engine, "V-1", "V-1:1:wh-reno")
    await _reserve(engine, "V-2", "wh-reno", 3)
    await ledger.release(
        engine, ReleaseInput(order_id="V-2", qty=1, reason="t", idempotency_key="k")
    )
    await ledger.close_order(engine, CloseOrderInput(order_id="V-2", status="cancelled"))
    await _reserve(engine, "V-3", "wh-dallas", 2)  # still open: reserved is fine
    await ledger.receive(engine, InventoryReceipt(node="wh-reno", sku=SKU, qty=5, reference="R"))
    await apply_feed(
        engine,
        InventoryFeed.model_validate(
            {
                "feed_id": "f1",
                "node": "wh-reno",
                "mode": "snapshot",
                "items": [{"sku": SKU, "on_hand": 90}],
            }
        ),
    )
    await record_unplanned_outbound(
        engine,
        order_id="V-2",
        shipment_id="V-2:1:wh-reno",
        node="wh-reno",
        lines=[(SKU, 2)],
        reference="e",
        note="",
    )


async def _write(engine: AsyncEngine, sql: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(sql))


async def _drop_checks(engine: AsyncEngine) -> None:
    """The schema refuses negative positions; an old or hand-edited database might not."""
    if is_sqlite(str(engine.url)):
        await _write(engine, "PRAGMA ignore_check_constraints = ON")
    else:
        for name in (
            "ck_position_on_hand_nonneg",
            "ck_position_reserved_nonneg",
            "ck_position_reserved_le_on_hand",
        ):
            await _write(engine, f"ALTER TABLE inventory_positions DROP CONSTRAINT {name}")


async def test_a_clean_ledger_has_no_violations(ledger_engine: AsyncEngine) -> None:
    assert await verify(ledger_engine) == []  # the seed is explained by its receipt movements
    await _busy_ledger(ledger_engine)
    assert await verify(ledger_engine) == []


async def test_closed_order_still_holding_reserved_is_found(ledger_engine: AsyncEngine) -> None:
    await _busy_ledger(ledger_engine)
    # A reservation made after the close (a late retry, say), consistently with its position.
    await _reserve(ledger_engine, "V-2", "wh-dallas", 1)
    found = await verify(ledger_engine)
    assert [(v.kind, v.order_id) for v in found] == [("closed-order-holds-reserved", "V-2")]
    assert "closed (cancelled)" in found[0].detail


async def test_position_mismatches_are_found(ledger_engine: AsyncEngine) -> None:
    await _busy_ledger(ledger_engine)
    await _write(
        ledger_engine,
        "UPDATE inventory_positions SET reserved = reserved + 1 WHERE node_id = 'wh-dallas' AND sku = 'TREK-POLES'",
    )
    await _write(
        ledger_engine,
        "UPDATE inventory_positions SET on_hand = on_hand + 7 WHERE node_id = 'wh-reno' AND sku = 'TREK-POLES'",
    )
    found = {(v.kind, v.node, v.sku) for v in await verify(ledger_engine)}
    assert found == {
        ("reserved-mismatch", "wh-dallas", SKU),
        ("on-hand-mismatch", "wh-reno", SKU),
    }


async def test_negative_positions_are_found(ledger_engine: AsyncEngine) -> None:
    await _drop_checks(ledger_engine)
    async with ledger_engine.begin() as conn:
        if is_sqlite(str(ledger_engine.url)):
            await conn.execute(sa.text("PRAGMA ignore_check_constraints = ON"))
        await conn.execute(
            sa.text(
                "UPDATE inventory_positions SET on_hand = -1 WHERE node_id = 'wh-reno' AND sku = 'TREK-POLES'"
            )
        )
        await conn.execute(
            sa.text(
                "UPDATE inventory_positions SET reserved = -2 WHERE node_id = 'wh-dallas' AND sku = 'TREK-POLES'"
            )
        )
    kinds = {(v.kind, v.node) for v in await verify(ledger_engine)}
    assert ("negative-on-hand", "wh-reno") in kinds
    assert ("negative-reserved", "wh-dallas") in kinds
    # -1 on hand is not what its movements say, and -2 reserved is not what its rows hold.
    assert ("on-hand-mismatch", "wh-reno") in kinds and ("reserved-mismatch", "wh-dallas") in kinds


async def test_orders_whose_workflow_is_closed_or_gone_are_found(
    sqlite_engine: AsyncEngine, dev_env: WorkflowEnvironment
) -> None:
    client = dev_env.client
    tag = uuid.uuid4().hex[:8]
    running, ended, never = f"R-{tag}", f"T-{tag}", f"N-{tag}"
    for order in (running, ended, never):
        await _reserve(sqlite_engine, order, "wh-reno", 1)
    queue = f"nobody-{tag}"  # no worker: the workflow stays running
    await client.start_workflow("OrderWorkflow", id=f"order-{running}", task_queue=queue)
    handle = await client.start_workflow("OrderWorkflow", id=f"order-{ended}", task_queue=queue)
    await handle.terminate("test")
    found, truncated = await verify_workflows(sqlite_engine, client)
    assert not truncated
    assert {v.order_id: v.kind for v in found} == {
        ended: "workflow-closed-holds-reserved",
        never: "workflow-closed-holds-reserved",
    }
    by_order = {v.order_id: v.detail for v in found}
    assert "terminated" in by_order[ended] and "no workflow" in by_order[never]
    # Bounded: with limit 1 only the oldest order is looked up, and the report says so.
    found, truncated = await verify_workflows(sqlite_engine, client, limit=1)
    assert truncated and found == []
    await client.get_workflow_handle(f"order-{running}").terminate("cleanup")


runner = CliRunner()


def _closed_port() -> int:
    """A local port nobody listens on: Temporal is "not reachable" there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cli_db(tmp_path: Path, network: Network) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def build() -> None:
        engine = create_engine(url)
        await migrate(engine)
        await seed_network(engine, network)
        await engine.dispose()

    asyncio.run(build())
    return url


def test_cli_exit_codes(tmp_path: Path, network: Network) -> None:
    url = _cli_db(tmp_path, network)
    env = {"DOM_DATABASE_URL": url, "TEMPORAL_ADDRESS": f"127.0.0.1:{_closed_port()}"}
    clean = runner.invoke(inventory_app, ["verify"], env=env)
    assert clean.exit_code == 0, clean.output
    assert "no violations" in clean.output and "not reachable" in clean.output

    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute(
            "UPDATE inventory_positions SET on_hand = on_hand + 3 WHERE node_id = 'wh-reno' AND sku = 'TREK-POLES'"
        )
    broken = runner.invoke(inventory_app, ["verify", "--no-temporal"], env=env)
    assert broken.exit_code == 1, broken.output
    assert "on-hand-mismatch" in broken.output and "1 violation(s)" in broken.output

    required = runner.invoke(inventory_app, ["verify", "--temporal"], env=env)
    assert required.exit_code == 4 and "cannot reach Temporal" in required.output


@pytest.mark.parametrize(
    "url", ["nonsense://nowhere", "postgresql+asyncpg://nobody@127.0.0.1:1/none"]
)
def test_cli_bad_database_url_is_a_plain_message(url: str) -> None:
    result = runner.invoke(
        inventory_app, ["verify", "--no-temporal"], env={"DOM_DATABASE_URL": url}
    )
    assert result.exit_code == 4
    assert "Traceback" not in result.output and "database" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_escalations(tmp_path: Path, network: Network) -> None:
    url = _cli_db(tmp_path, network)

    async def escalate() -> None:
        engine = create_engine(url)
        await record_unplanned_outbound(
            engine,
            order_id="E-1",
            shipment_id="E-1:1:wh-reno",
            node="wh-reno",
            lines=[(SKU, 1)],
            reference="x",
            note="",
        )
        await engine.dispose()

    asyncio.run(escalate())
    result = runner.invoke(inventory_app, ["escalations", "--json"], env={"DOM_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert '"order_id": "E-1"' in result.output and "unplanned-outbound" in result.output
