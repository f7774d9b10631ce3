from __future__ import annotations

import pytest

from tests.support.routing import load_example


@pytest.fixture
def example():
    return load_example
