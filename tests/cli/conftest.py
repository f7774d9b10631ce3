"""One `dom dev` per module (tests/support/devstack.py starts and stops it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.devstack import DevStack, start_dev, stop_dev


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """One `dom dev` for the module's tests (each test uses its own orders)."""
    s = start_dev(tmp_path_factory.mktemp("dom-home"))
    try:
        yield s
    finally:
        stop_dev(s)
