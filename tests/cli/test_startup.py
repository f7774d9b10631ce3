"""`dom` starts quickly: building the whole command tree (what `dom --help` and every command's
argument parsing do) imports none of the heavy libraries; they are imported inside the
commands. Measured in a fresh interpreter, so this file's own imports do not count; no timing
(the real start-up time is in docs/cli.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from enum import StrEnum
from typing import get_args

import pytest

from dom_workflows.config import PROJECT_ROOT

HEAVY = (
    "temporalio",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "uvloop",
    "httpx",
    "activities",
    "plotly",
    "prometheus_client",
    "opentelemetry",
)

PROBE = """
import json, sys
import typer.main
from workers.cli.main import app
group = typer.main.get_command(app)  # every command and option, as `dom --help` builds them
print(json.dumps(sorted(sys.modules)))
"""


def heavy(modules: list[str]) -> list[str]:
    return [
        m
        for m in modules
        if m.split(".")[0] in HEAVY
        # the workflow definitions and the pydantic order models (hundreds of ms each)
        or (m.startswith("dom_workflows.") and m.endswith((".workflows", ".models")))
    ]


def test_building_the_cli_imports_nothing_heavy() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = json.loads(out)
    assert "workers.cli.order" in loaded  # the probe did build the commands
    assert heavy(loaded) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above would catch an eager import: the same probe after importing the client."""
    out = subprocess.run(
        [sys.executable, "-c", "import workers.client\n" + PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = heavy(json.loads(out))
    assert "temporalio" in found and "dom_workflows.order.workflows" in found


def _values(enum: type[StrEnum]) -> list[str]:
    return [e.value for e in enum]


@pytest.mark.parametrize("which", ["status", "event", "scopes", "limits"])
def test_the_cli_choices_mirror_the_models(which: str) -> None:
    """The CLI spells out a few choices to stay light; they must equal the models'."""
    from dom_workflows.order.models import OrderStatus, ShipmentEventType
    from workers.api.apikeys import ALL_SCOPES
    from workers.cli import apikey, order
    from workers.order_search import DEFAULT_LIMIT, MAX_LIMIT

    if which == "status":
        assert _values(order.StatusChoice) == _values(OrderStatus)
    elif which == "event":
        assert _values(order.EventChoice) == list(get_args(ShipmentEventType))
    elif which == "scopes":
        assert apikey.ALL_SCOPES == ALL_SCOPES
    else:
        assert (order.DEFAULT_LIMIT, order.MAX_LIMIT) == (DEFAULT_LIMIT, MAX_LIMIT)
