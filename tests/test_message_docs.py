"""docs/api.md names every signal, Update and query of every workflow (with a `temporal`
example each), so ops can drive them by hand."""

from __future__ import annotations

import re

import pytest
from temporalio.workflow import _Definition

from dom_workflows.backorder.workflows import BackorderWorkflow, SkuWaitlistWorkflow
from dom_workflows.config import PROJECT_ROOT
from dom_workflows.consolidation.workflows import ConsolidationWorkflow
from dom_workflows.order.workflows import OrderWorkflow
from dom_workflows.returns.workflows import ReturnWorkflow

DOC = (PROJECT_ROOT / "docs" / "api.md").read_text()
SECTION = DOC[DOC.index("## Workflow messages") :]


@pytest.mark.parametrize(
    "cls",
    [OrderWorkflow, BackorderWorkflow, SkuWaitlistWorkflow, ConsolidationWorkflow, ReturnWorkflow],
)
def test_every_message_is_documented(cls: type) -> None:
    defn = _Definition.must_from_class(cls)
    part = SECTION[SECTION.index(f"**{defn.name}**") :]
    nxt = re.search(r"\n\*\*\w+Workflow\*\*", part[2:])
    part = part[: nxt.start() + 2] if nxt else part
    kinds = {
        "signal": [n for n in defn.signals if n],
        "update": [n for n in defn.updates if n],
        "query": [n for n in defn.queries if n and not n.startswith("__")],
    }
    for kind, found in kinds.items():
        for name in found:
            assert f"| {kind} | `{name}` |" in part, (defn.name, kind, name)
    # One `temporal` example per kind the workflow has (ConsolidationWorkflow's join is
    # internal: a query example is enough there).
    assert "temporal workflow query" in part
    if kinds["update"]:
        assert "temporal workflow update execute" in part
