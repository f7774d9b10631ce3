"""The layers stay layered: the deterministic core (`src/dom_workflows`) and the activities never
import the processes in `workers/` (the client, the API, the CLI), and no two of their modules
import each other, not even through a lazy import inside a function.

Imports are read from each module's source with `ast`, so an import inside a function body,
which only runs later, counts like one at the top of the file."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import activities
import dom_workflows

LAYERS: tuple[ModuleType, ...] = (dom_workflows, activities)
FORBIDDEN = "workers"


def modules() -> dict[str, Path]:
    """Every module of the layers, imported (so each one imports on its own), with its file."""
    found: dict[str, Path] = {}
    for pkg in LAYERS:
        assert pkg.__file__ is not None
        found[pkg.__name__] = Path(pkg.__file__)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
            module = importlib.import_module(info.name)
            assert module.__file__ is not None, info.name
            found[info.name] = Path(module.__file__)
    return found


def imported_names(source: str, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(absolute name, line) of everything `source` imports, at any depth. For
    `from a.b import c` both `a.b` and `a.b.c` are yielded (c may be a module or an attribute;
    the caller keeps what is a module)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                if alias.name != "*":
                    yield f"{target}.{alias.name}", node.lineno


def imports_of(name: str, path: Path, known: set[str]) -> tuple[set[str], list[str]]:
    """(modules of the layers that `name` imports, imports of `workers` as 'line: name')."""
    deps: set[str] = set()
    forbidden: list[str] = []
    source = path.read_text()
    for target, line in imported_names(source, name, path.name == "__init__.py"):
        if target == FORBIDDEN or target.startswith(f"{FORBIDDEN}."):
            forbidden.append(f"{line}: {target}")
        if target in known and target != name:
            deps.add(target)
    return deps, forbidden


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    found = modules()
    known = set(found)
    edges: dict[str, set[str]] = {}
    forbidden: dict[str, list[str]] = {}
    for name, path in found.items():
        edges[name], bad = imports_of(name, path, known)
        if bad:
            forbidden[name] = bad
    return edges, forbidden


def test_every_module_of_the_core_and_the_activities_is_found_and_imports() -> None:
    found = modules()
    assert "dom_workflows.returns.workflows" in found
    assert "activities.returns.activities" in found
    assert "dom_workflows.routing.policy" in found


def test_core_and_activities_never_import_workers(
    graph: tuple[dict[str, set[str]], dict[str, list[str]]],
) -> None:
    _, forbidden = graph
    assert not forbidden, (
        "src/dom_workflows and activities must not import workers/ (activities talk to other "
        f"workflows by name through their own Client): {forbidden}"
    )


def test_no_import_cycles_between_modules_of_the_core_and_the_activities(
    graph: tuple[dict[str, set[str]], dict[str, list[str]]],
) -> None:
    edges, _ = graph
    assert cycles(edges) == []


# ----------------------------------------------------------------- the checker itself
ACTIVITY_WITH_LAZY_CLIENT = """
from temporalio import activity

class ReturnClientActivities:
    @activity.defn
    async def wake_backorders(self, req):
        from workers.client import DomClient
        return await DomClient(self.client, "q").stock_arrived(req.sku, req)
"""


def test_a_lazy_import_of_the_client_inside_an_activity_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "activities.py"
    path.write_text(ACTIVITY_WITH_LAZY_CLIENT)
    _, forbidden = imports_of("activities.returns.activities", path, set())
    assert forbidden == ["7: workers.client", "7: workers.client.DomClient"]


def test_relative_and_lazy_imports_make_edges_and_a_cycle_is_found(tmp_path: Path) -> None:
    known = {"pkg", "pkg.models", "pkg.policy"}
    models = tmp_path / "models.py"
    models.write_text("def f():\n    from .policy import rule\n    return rule\n")
    policy = tmp_path / "policy.py"
    policy.write_text("from pkg import models\n")
    edges = {
        "pkg.models": imports_of("pkg.models", models, known)[0],
        "pkg.policy": imports_of("pkg.policy", policy, known)[0],
    }
    assert edges == {"pkg.models": {"pkg.policy"}, "pkg.policy": {"pkg", "pkg.models"}}
    assert cycles(edges) == [["pkg.models", "pkg.policy"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
