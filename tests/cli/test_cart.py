"""`dom cart hold|extend|release|show` and the held column of `dom inventory show`, in process
on a migrated and seeded SQLite DOM database (the commands use the database, not Temporal)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities.inventory.db import create_engine, migrate, seed_network
from dom_workflows.network import Network
from workers.cli.main import app

SKU = "SUP-BOARD"


@pytest.fixture
def dom(tmp_path: Path, network: Network, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dom.db'}"

    async def prepare() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
            await seed_network(engine, network)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    monkeypatch.setenv("DOM_DATABASE_URL", url)
    return CliRunner()


def ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def inventory(runner: CliRunner) -> dict[str, int]:
    view = json.loads(ok(runner, "inventory", "show", SKU, "--json"))
    return {k: view[k] for k in ("total_held", "total_atp", "total_reserved")}


def test_inventory_show_has_a_held_column(dom: CliRunner) -> None:
    before = inventory(dom)
    ok(dom, "cart", "hold", "cli-cart", f"{SKU}:4")
    after = inventory(dom)
    assert after["total_held"] == 4 and after["total_atp"] == before["total_atp"] - 4
    table = ok(dom, "inventory", "show", SKU)
    header = next(line for line in table.splitlines() if "on hand" in line)
    assert "held" in header
    total = next(line for line in table.splitlines() if line.strip("│ ").startswith("total"))
    cells = [c.strip() for c in total.strip("│").split("│")]
    assert cells[3] == "4"  # node, on hand, reserved, held


def test_cart_hold_show_extend_release(dom: CliRunner) -> None:
    held = json.loads(ok(dom, "cart", "hold", "c-1", f"{SKU}:2", "--minutes", "5", "--json"))
    assert held["status"] == "active" and held["lines"][0]["qty"] == 2
    shown = ok(dom, "cart", "show", "c-1")
    assert "active" in shown and SKU in shown
    extended = json.loads(ok(dom, "cart", "extend", "c-1", "--json"))
    assert extended["expires_at"] > held["expires_at"]
    released = json.loads(ok(dom, "cart", "release", "c-1", "--json"))
    assert released["status"] == "released"
    assert inventory(dom)["total_held"] == 0


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (["cart", "hold", "c-2", "NO-SUCH:1"], "NO-SUCH", 1),
        (["cart", "hold", "c-2", f"{SKU}:0"], "SKU:QTY", 2),
        (["cart", "hold", "c-2", f"{SKU}:9999"], "cannot be held", 1),
        (["cart", "hold", "c-2", f"{SKU}:1", "--minutes", "16"], "at most 15", 1),
        (["cart", "hold", "bad id", f"{SKU}:1"], "must match", 2),
        (["cart", "show", "nobody"], "has no hold", 3),
        (["cart", "release", "nobody"], "has no hold", 3),
    ],
)
def test_bad_input_is_a_message_and_changes_nothing(
    dom: CliRunner, args: list[str], needle: str, code: int
) -> None:
    result = dom.invoke(app, args)
    assert result.exit_code == code and needle in result.output, result.output
    assert "Traceback" not in result.output
    assert inventory(dom)["total_held"] == 0
