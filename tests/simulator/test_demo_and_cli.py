"""The demo order generator, the `dom simulate partners` command and the child-process runner."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
from typer.testing import CliRunner

from dom_workflows.geo import geocode_zip
from dom_workflows.network import Network
from dom_workflows.order.models import OrderRequest
from tests.support.servers import free_port
from workers.cli.main import app
from workers.demo import DESTINATIONS, DemoOrders, StreamStats, render_board
from workers.simulator.config import load_secrets
from workers.simulator.process import SimProcessOptions, run_simulator


def test_demo_destinations_are_real_zips_in_the_right_state() -> None:
    for zip_code, _city, state in DESTINATIONS:
        assert geocode_zip(zip_code).state == state, zip_code
    assert len({s for _, _, s in DESTINATIONS}) >= 30


def test_demo_orders_are_valid_and_varied(network: Network) -> None:
    gen = DemoOrders(network, random.Random(5), prefix="T")
    orders = [OrderRequest.model_validate(gen.next()) for _ in range(400)]
    assert len({o.order_id for o in orders}) == 400
    skus = network.sku_map()
    for o in orders:
        assert 1 <= len(o.lines) <= 4 and len({ln.sku for ln in o.lines}) == len(o.lines)
        assert all(ln.unit_price.amount == skus[ln.sku].price for ln in o.lines)
        if o.delivery == "pickup":
            assert o.pickup_node and network.node(o.pickup_node).pickup and o.ship_to is None
        else:
            assert o.ship_to and o.ship_to.zip
    assert {o.customer.tier for o in orders} == {"standard", "loyalty", "vip"}
    assert {o.channel for o in orders} == {"web", "mobile", "marketplace", "store"}
    assert {o.service_level for o in orders if o.delivery == "ship"} == {
        "ground",
        "express",
        "overnight",
    }
    assert 10 < sum(o.delivery == "pickup" for o in orders) < 70
    assert any(ln.sku == "SUP-BOARD" for o in orders for ln in o.lines)


def test_board_renders_every_status() -> None:
    from collections import Counter

    from rich.console import Console

    console = Console(record=True, width=100)
    console.print(
        render_board(Counter({"completed": 3, "routed": 1}), StreamStats(submitted=4), {"API": "x"})
    )
    text = console.export_text()
    assert "completed" in text and "submitted 4" in text and "API" in text


def test_simulate_partners_is_a_sub_command() -> None:
    result = CliRunner().invoke(app, ["simulate", "partners", "--help"])
    assert result.exit_code == 0, result.output
    for option in (
        "--port",
        "--api-url",
        "--accept-delay",
        "--reject-rate",
        "--fail-rate",
        "--timeout-rate",
        "--seed",
    ):
        assert option in result.output


async def test_child_process_serves_and_is_reaped(tmp_path: Path) -> None:
    port = free_port()
    opts = SimProcessOptions(
        port=port,
        api_url="http://127.0.0.1:9",
        secrets=Path(__file__).resolve().parents[2] / "examples" / "partners.json",
        log_path=tmp_path / "sim.log",
        fail_rate=0.25,
    )
    assert set(load_secrets(opts.secrets)) >= {"wh-reno", "carrier-sim"}
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_simulator(opts, ready, stop))
    await asyncio.wait_for(ready.wait(), 30)
    async with httpx.AsyncClient() as http:
        config = (await http.get(f"http://127.0.0.1:{port}/_config")).json()
    assert config["fail_rate"] == 0.25
    task.cancel()  # what `dom dev` does on Ctrl-C
    await asyncio.gather(task, return_exceptions=True)
    async with httpx.AsyncClient() as http:
        try:
            await http.get(f"http://127.0.0.1:{port}/_health")
            raise AssertionError("the simulator is still running")
        except httpx.ConnectError:
            pass
