"""User errors end with a one-line message and the documented exit code (docs/cli.md), never a
Python traceback: each case runs the real `dom` console script in a subprocess, with a clean
environment, as a new user would."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from dom_workflows.config import PROJECT_ROOT
from tests.support.devstack import DOM, Result, clean_env

OK, FAILED, USAGE, NOT_FOUND, UNAVAILABLE = 0, 1, 2, 3, 4


async def dom(*args: str, cwd: Path = PROJECT_ROOT, **env: str) -> Result:
    proc = await asyncio.create_subprocess_exec(
        str(DOM),
        *args,
        cwd=cwd,
        env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Result(list(args), proc.returncode, out.decode(), err.decode())


def plain(r: Result, code: int, *needles: str) -> None:
    """Exit `code`, the message says each needle, and no traceback or source path is shown."""
    assert r.code == code, str(r)
    assert "Traceback" not in r.output and 'File "' not in r.output, str(r)
    for needle in needles:
        assert needle in r.output, f"{needle!r} not in:\n{r}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nobody listens once the socket is closed


@pytest.mark.parametrize(
    "args",
    [
        ["order", "show", "NOPE-1"],
        ["order", "cancel", "NOPE-1"],
        ["order", "list"],
        ["return", "show", "RMA-NOPE-1"],
    ],
)
async def test_temporal_not_reachable_names_the_address_and_how_to_start_it(
    args: list[str],
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    r = await dom(*args, "--address", address, "--namespace", "ops")
    plain(r, UNAVAILABLE, f"cannot reach Temporal at {address} (namespace ops)", "make run")


async def test_the_address_also_comes_from_the_environment() -> None:
    address = f"127.0.0.1:{closed_port()}"
    r = await dom("order", "show", "NOPE-1", TEMPORAL_ADDRESS=address)
    plain(r, UNAVAILABLE, f"Temporal at {address}", "dom dev")


async def test_an_unknown_order_is_not_found(dev_env: WorkflowEnvironment) -> None:
    address = dev_env.client.service_client.config.target_host
    for args in (["order", "show", "NOPE-1"], ["order", "cancel", "NOPE-1"]):
        r = await dom(*args, "--address", address)
        plain(r, NOT_FOUND, "order NOPE-1 does not exist")


async def test_inventory_show_outside_the_project_says_where_it_looked(tmp_path: Path) -> None:
    r = await dom("inventory", "show", "BOOT-HIKE-9", cwd=tmp_path)
    plain(r, UNAVAILABLE, f"no DOM database at {tmp_path / '.dom' / 'dom.db'}", "DOM_HOME")
    assert list(tmp_path.iterdir()) == []  # no stray empty database left behind


async def test_an_explicit_dom_home_without_a_database_is_not_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = await dom("inventory", "show", "BOOT-HIKE-9", cwd=tmp_path, DOM_HOME=str(home))
    plain(r, UNAVAILABLE, "no DOM database", str(home))
    assert not home.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["order", "show"], "Missing argument"),
        (["order", "list", "--status", "lost"], "'lost' is not one of"),
        (["order", "list", "--from", "yesterday"], "not an ISO 8601 time"),
        (["order", "submit", "no-such-file.json"], "cannot read no-such-file.json"),
        (["shipment", "event", "--order", "A", "--shipment", "B", "--type", "x"], "--type"),
        (["nope"], "No such command"),
        (["dev", "--address", "127.0.0.1:1"], "--external-temporal"),
    ],
)
async def test_bad_flags_are_usage_errors(args: list[str], needle: str) -> None:
    plain(await dom(*args), USAGE, needle)


async def test_help_is_ok() -> None:
    r = await dom("--help")
    plain(r, OK, "order", "inventory")
