"""What one network version stores: the network and the routing policy as the files define them,
each node's lifecycle state and the rollout scopes. Validated whole before it is stored, so a
version routing reads is always one the router can use."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dom_workflows.network import Network
from dom_workflows.network_versions.scope import Scope, ScopeSubject
from dom_workflows.routing.policy import Policy

# active: takes new orders. draining: finishes what it has, takes nothing new. disabled: takes
# nothing new; its open requests are left alone unless ops re-route them.
NodeState = Literal["active", "draining", "disabled"]
NODE_STATES: tuple[NodeState, ...] = ("active", "draining", "disabled")
BASE_POLICY = "base"


class PolicyVariant(BaseModel):
    """A whole policy for the orders in its scope (the first variant whose scope holds wins)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    scope: Scope
    policy: Policy


class NetworkDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: Network
    policy: Policy
    # Nodes not named here are active.
    node_states: dict[str, NodeState] = Field(default_factory=dict)
    # A node (rule) named here is used only for orders in its scope; others everywhere.
    node_scopes: dict[str, Scope] = Field(default_factory=dict)
    rule_scopes: dict[str, Scope] = Field(default_factory=dict)
    policy_variants: list[PolicyVariant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> NetworkDocument:
        problems = document_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def state_of(self, node_id: str) -> NodeState:
        return self.node_states.get(node_id, "active")

    def policy_json(self) -> str:
        """The routing-policy part (policy, rule scopes, variants) canonically: a policy
        version changes exactly when this does."""
        part = self.model_dump(mode="json", include={"policy", "rule_scopes", "policy_variants"})
        return json.dumps(part, sort_keys=True, separators=(",", ":"))


def _dupes(values: list[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def document_problems(doc: NetworkDocument) -> list[str]:
    """Why the document cannot be a version (empty: it can)."""
    net = doc.network
    node_ids = [n.id for n in net.nodes]
    known_nodes = set(node_ids)
    known_skus = {s.sku for s in net.skus}
    out: list[str] = []
    if not net.nodes:
        out.append("network.nodes: the network has no node")
    if d := _dupes(node_ids):
        out.append(f"network.nodes: node id listed twice: {', '.join(d)}")
    if d := _dupes([s.sku for s in net.skus]):
        out.append(f"network.skus: SKU listed twice: {', '.join(d)}")
    for i, seed in enumerate(net.inventory):
        if seed.node not in known_nodes:
            out.append(f"network.inventory[{i}]: unknown node {seed.node!r}")
        if seed.sku not in known_skus:
            out.append(f"network.inventory[{i}]: unknown sku {seed.sku!r}")
    missing_sla = sorted({n.type for n in net.nodes} - set(net.sla))
    if missing_sla:
        out.append(f"network.sla: no SLA for node type {', '.join(missing_sla)}")
    for section in ("node_states", "node_scopes"):
        unknown = sorted(set(getattr(doc, section)) - known_nodes)
        if unknown:
            out.append(f"{section}: unknown node {', '.join(unknown)}")
    if node_ids and all(doc.state_of(n) != "active" for n in node_ids):
        out.append("node_states: no node is active, so no order could be routed")
    policies = [(BASE_POLICY, doc.policy)] + [(v.name, v.policy) for v in doc.policy_variants]
    if d := _dupes([name for name, _ in policies]):
        out.append(f"policy_variants: name used twice (or '{BASE_POLICY}'): {', '.join(d)}")
    rule_names: set[str] = set()
    for name, policy in policies:
        where = "policy" if name == BASE_POLICY else f"policy_variants[{name}]"
        names = [r.name for r in policy.rules]
        rule_names.update(names)
        if d := _dupes(names):
            out.append(f"{where}.rules: rule name used twice: {', '.join(d)}")
        for r in policy.rules:
            named = set(r.then.exclude_nodes)
            for sel in [
                *r.then.adjust_cost,
                *([r.then.protect_floor] if r.then.protect_floor else []),
            ]:
                named.update(sel.nodes)
            if unknown := sorted(named - known_nodes):
                out.append(f"{where}.rules[{r.name}]: unknown node {', '.join(unknown)}")
    if unknown := sorted(set(doc.rule_scopes) - rule_names):
        out.append(f"rule_scopes: no rule named {', '.join(unknown)}")
    return out


@dataclass(frozen=True)
class Resolution:
    """What applies to one order: its policy (variant, scoped rules), the nodes it may not use
    and why, and the scopes it fell into ("node:x", "rule:y", "policy:z")."""

    policy: Policy
    policy_name: str
    excluded: dict[str, str]
    scopes: tuple[str, ...]


def resolve(doc: NetworkDocument, subject: ScopeSubject) -> Resolution:
    policy, policy_name, fell = doc.policy, BASE_POLICY, []
    for variant in doc.policy_variants:
        if variant.scope.matches(subject):
            policy, policy_name = variant.policy, variant.name
            fell.append(f"policy:{variant.name}")
            break
    kept = []
    for rule in policy.rules:
        scope = doc.rule_scopes.get(rule.name)
        if scope is None:
            kept.append(rule)
        elif scope.matches(subject):
            kept.append(rule)
            fell.append(f"rule:{rule.name}")
    if len(kept) != len(policy.rules):
        policy = policy.model_copy(update={"rules": kept})
    excluded: dict[str, str] = {}
    for node in doc.network.nodes:
        state = doc.state_of(node.id)
        if state != "active":
            excluded[node.id] = f"node {state}"
            continue
        scope = doc.node_scopes.get(node.id)
        if scope is None:
            continue
        if scope.matches(subject):
            fell.append(f"node:{node.id}")
        else:
            excluded[node.id] = f"not rolled out here ({scope.describe()})"
    return Resolution(policy, policy_name, excluded, tuple(fell))


def parse_document(data: Any) -> NetworkDocument:
    """A document from parsed JSON/YAML; pydantic's ValidationError for a bad one."""
    return NetworkDocument.model_validate(data)
