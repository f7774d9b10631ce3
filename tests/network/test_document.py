"""A version's document is validated whole; the diff says what a new version changes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dom_workflows.network_versions.diff import diff
from dom_workflows.network_versions.document import NetworkDocument
from tests.network.test_scope import example


def data(**changes: Any) -> dict[str, Any]:
    return example().model_dump(mode="json") | changes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"node_states": {"nowhere": "draining"}}, "node_states: unknown node nowhere"),
        ({"node_scopes": {"nowhere": {}}}, "node_scopes: unknown node nowhere"),
        ({"rule_scopes": {"no-such-rule": {}}}, "rule_scopes: no rule named no-such-rule"),
        ({"node_states": {"wh-reno": "paused"}}, "node_states.wh-reno"),
        ({"node_scopes": {"wh-reno": {"percent": 120}}}, "less than or equal to 100"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_document_is_refused_with_the_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as e:
        NetworkDocument.model_validate(data(**changes))
    assert reason in str(e.value)


def test_a_rule_naming_an_unknown_node_and_a_network_with_no_active_node_are_refused() -> None:
    bad = data()
    bad["policy"]["rules"][0]["then"]["exclude_nodes"] = ["wh-atlantis"]
    with pytest.raises(ValidationError, match=r"vip-fastest.*unknown node wh-atlantis"):
        NetworkDocument.model_validate(bad)
    every = {n.id: "disabled" for n in example().network.nodes}
    with pytest.raises(ValidationError, match="no node is active"):
        NetworkDocument.model_validate(data(node_states=every))


def test_the_diff_names_nodes_added_removed_changed_and_rules_changed() -> None:
    old = example()
    new = data()
    added = dict(new["network"]["nodes"][0], id="wh-denver", name="Denver")
    new["network"]["nodes"] = [n for n in new["network"]["nodes"] if n["id"] != "store-la"]
    new["network"]["nodes"].append(added)
    new["network"]["nodes"][0]["cutoff"] = "14:00"
    new["network"]["inventory"] = [
        i for i in new["network"]["inventory"] if i["node"] != "store-la"
    ]
    new["policy"]["split_penalty"] = "4.00"
    new["policy"]["rules"] = new["policy"]["rules"][1:]
    lines = [c.line() for c in diff(old, NetworkDocument.model_validate(new))]
    assert "+ node wh-denver" in lines
    assert "- node store-la" in lines
    assert "~ node wh-reno: cutoff" in lines
    assert "~ policy split_penalty: 3.00 -> 4.00" in lines
    assert "- rule vip-fastest" in lines
    assert diff(old, example()) == []
