"""`make run` passes its port and DOM_HOME variables to `dom dev` (read with `make -n`, which
prints the command without running it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dom_workflows.config import PROJECT_ROOT


def make_run(*variables: str) -> str:
    done = subprocess.run(
        ["make", "-n", "run", *variables],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return " ".join(done.stdout.split()).replace("\\ ", "")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_port_and_dom_home_reach_dom_dev() -> None:
    command = make_run("PORT=8010", "DOM_HOME=/tmp/dom2")
    assert "DOM_HOME=/tmp/dom2 .venv/bin/dom dev --demo --api-port 8010" in command
    # Temporal and its UI move with the API port, so two stacks never share one.
    assert "--temporal-port 7243 --ui-port 8243" in command


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_defaults_are_the_documented_ports() -> None:
    command = make_run()
    assert "DOM_HOME=.dom .venv/bin/dom dev --demo --api-port 8000" in command
    assert "--temporal-port 7233 --ui-port 8233" in command
