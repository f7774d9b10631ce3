"""What a new version changes against the active one, a line per change, for ops to read before
(`--dry-run`) and after they apply it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dom_workflows.network_versions.document import NetworkDocument


class Change(BaseModel):
    op: str  # "+" added, "-" removed, "~" changed
    what: str  # "node wh-dallas", "rule vip-fastest", "policy split_penalty"
    detail: str = ""

    def line(self) -> str:
        return f"{self.op} {self.what}" + (f": {self.detail}" if self.detail else "")


def _by_key(items: list[Any], key: str) -> dict[str, dict[str, Any]]:
    return {str(d[key]): d for d in (i.model_dump(mode="json") for i in items)}


def _keyed(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    for k in sorted(new.keys() - old.keys()):
        out.append(Change(op="+", what=f"{kind} {k}"))
    for k in sorted(old.keys() - new.keys()):
        out.append(Change(op="-", what=f"{kind} {k}"))
    for k in sorted(old.keys() & new.keys()):
        if old[k] != new[k]:
            if isinstance(old[k], dict) and isinstance(new[k], dict):
                fields = sorted(
                    f for f in old[k].keys() | new[k].keys() if old[k].get(f) != new[k].get(f)
                )
                out.append(Change(op="~", what=f"{kind} {k}", detail=", ".join(fields)))
            else:
                out.append(Change(op="~", what=f"{kind} {k}", detail=f"{old[k]} -> {new[k]}"))
    return out


def diff(old: NetworkDocument | None, new: NetworkDocument) -> list[Change]:
    """Every change from `old` (None: nothing yet) to `new`."""
    if old is None:
        return [Change(op="+", what="network", detail=f"{len(new.network.nodes)} nodes")]
    out: list[Change] = []
    out += _keyed("node", _by_key(old.network.nodes, "id"), _by_key(new.network.nodes, "id"))
    out += _keyed("sku", _by_key(old.network.skus, "sku"), _by_key(new.network.skus, "sku"))
    on, nn = old.network.model_dump(mode="json"), new.network.model_dump(mode="json")
    for section in sorted(on.keys() - {"nodes", "skus"}):
        if on.get(section) != nn.get(section):
            out.append(Change(op="~", what=f"network {section}"))
    out += _keyed(
        "node state",
        {n.id: old.state_of(n.id) for n in old.network.nodes},
        {n.id: new.state_of(n.id) for n in new.network.nodes},
    )
    out += _keyed(
        "node scope",
        {k: v.describe() for k, v in old.node_scopes.items()},
        {k: v.describe() for k, v in new.node_scopes.items()},
    )
    op, np_ = old.policy.model_dump(mode="json"), new.policy.model_dump(mode="json")
    for f in sorted((op.keys() | np_.keys()) - {"rules"}):
        if op.get(f) != np_.get(f):
            out.append(Change(op="~", what=f"policy {f}", detail=f"{op.get(f)} -> {np_.get(f)}"))
    out += _keyed("rule", _by_key(old.policy.rules, "name"), _by_key(new.policy.rules, "name"))
    out += _keyed(
        "rule scope",
        {k: v.describe() for k, v in old.rule_scopes.items()},
        {k: v.describe() for k, v in new.rule_scopes.items()},
    )
    out += _keyed(
        "policy variant",
        {v.name: v.model_dump(mode="json") for v in old.policy_variants},
        {v.name: v.model_dump(mode="json") for v in new.policy_variants},
    )
    return out
