"""The tests share helpers through tests/support, never through a conftest: no module under
tests/ (a conftest included) imports from a conftest. Conftests hold fixtures, which pytest
finds by name; fixtures several directories use live in tests/support/fixtures.py, a plugin
of tests/conftest.py.

Imports are read with `ast`, so one inside a function body counts too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def conftest_imports(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) of every import of a conftest in `source`, absolute or relative."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if "conftest" in alias.name.split("."):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            dots = "." * node.level
            if "conftest" in module.split("."):
                yield node.lineno, f"from {dots}{module} import ..."
            for alias in node.names:
                if alias.name == "conftest":
                    yield node.lineno, f"from {dots}{module} import conftest"


# Spelled through C so that a plain grep for conftest imports finds none in this file.
C = "conftest"


@pytest.mark.parametrize(
    "source",
    [
        f"from tests.api.{C} import Api",
        f"from .{C} import load_example",
        f"from . import {C}",
        f"from tests.order import {C}",
        f"import tests.{C}",
        f"def f():\n    from tests.returns.{C} import Returns\n",
    ],
)
def test_every_form_of_conftest_import_is_caught(source: str) -> None:
    assert list(conftest_imports(source)), source


def test_no_module_under_tests_imports_from_a_conftest() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 50, files  # the walk really covers the test tree
    found = [
        f"{path.relative_to(TESTS.parent)}:{line}: {what}"
        for path in files
        for line, what in conftest_imports(path.read_text())
    ]
    assert not found, "import helpers from tests/support, not from a conftest:\n" + "\n".join(found)
