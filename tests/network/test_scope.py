"""Rollout scopes: which orders a scoped node, rule or policy applies to."""

from __future__ import annotations

import random

from dom_workflows.config import PROJECT_ROOT
from dom_workflows.network import load_network
from dom_workflows.network_versions.document import NetworkDocument, resolve
from dom_workflows.network_versions.scope import Scope, ScopeSubject, bucket
from dom_workflows.routing import load_policy

STATES = ["TX", "CA", "NY", "FL", "OH", "WA", "IL", "GA"]


def example() -> NetworkDocument:
    return NetworkDocument(
        network=load_network(PROJECT_ROOT / "examples" / "network.json"),
        policy=load_policy(PROJECT_ROOT / "examples" / "policy.yaml"),
    )


def subject(order_id: str, state: str = "NY", **kw: object) -> ScopeSubject:
    return ScopeSubject.of(
        order_id,
        state=state,
        zip_code=str(kw.get("zip", "10118")),
        channel=str(kw.get("channel", "web")),
        tags=list(kw.get("tags", [])),  # type: ignore[call-overload]
    )


def test_the_percentage_is_a_stable_hash_close_to_the_share_over_10k_orders() -> None:
    scope = Scope(percent=10)
    ids = [f"ORD-{i:06d}" for i in range(10_000)]
    chosen = [i for i in ids if scope.matches(subject(i))]
    assert 900 <= len(chosen) <= 1100, len(chosen)
    # Stable: the same orders on every call (no per-process salt as with hash()).
    assert chosen == [i for i in ids if scope.matches(subject(i))]
    # A different salt picks an independent sample of about the same size.
    other = [i for i in ids if Scope(percent=10, salt="b").matches(subject(i))]
    assert 900 <= len(other) <= 1100 and len(set(chosen) & set(other)) < 300


def test_a_known_bucket_never_moves() -> None:
    # Pinned: a change of hash would silently move orders between rollout arms.
    assert (
        bucket("ORD-1")
        == int.from_bytes(__import__("hashlib").sha256(b"|ORD-1").digest()[:8], "big") % 10_000
    )


def test_a_rule_scoped_to_one_state_applies_only_to_orders_to_that_state() -> None:
    doc = example().model_copy(update={"rule_scopes": {"dropship-fee": Scope(states=["TX"])}})
    rng = random.Random(12)
    for i in range(500):
        state = rng.choice(STATES)
        r = resolve(doc, subject(f"R-{i}", state=state))
        names = {rule.name for rule in r.policy.rules}
        assert ("dropship-fee" in names) == (state == "TX"), (state, names)
        assert ("rule:dropship-fee" in r.scopes) == (state == "TX")
        # Unscoped rules apply everywhere.
        assert "vip-fastest" in names


def test_a_node_scoped_to_zip_prefixes_channels_and_brands_is_excluded_elsewhere() -> None:
    scope = Scope(zip_prefixes=["100"], channels=["web"], brands=["acme"])
    doc = example().model_copy(update={"node_scopes": {"store-nyc": scope}})
    inside = resolve(doc, subject("A", zip="10001", tags=["brand:acme"]))
    assert "store-nyc" not in inside.excluded and "node:store-nyc" in inside.scopes
    for outside in (
        subject("B", zip="94105", tags=["brand:acme"]),
        subject("C", zip="10001", tags=["brand:other"]),
        subject("D", zip="10001", channel="pos", tags=["brand:acme"]),
    ):
        r = resolve(doc, outside)
        assert r.excluded["store-nyc"].startswith("not rolled out here"), outside
        assert r.scopes == ()


def test_drained_and_disabled_nodes_are_excluded_for_every_order() -> None:
    doc = example().model_copy(
        update={"node_states": {"wh-dallas": "draining", "store-la": "disabled"}}
    )
    r = resolve(doc, subject("X"))
    assert r.excluded == {"wh-dallas": "node draining", "store-la": "node disabled"}


def test_a_scoped_whole_policy_replaces_the_base_policy_in_its_scope() -> None:
    base = example()
    variant = base.policy.model_copy(update={"split_penalty": base.policy.split_penalty + 5})
    doc = NetworkDocument.model_validate(
        base.model_dump(mode="json")
        | {
            "policy_variants": [
                {"name": "cand", "scope": {"states": ["CA"]}, "policy": variant.model_dump()}
            ]
        }
    )
    ca, ny = resolve(doc, subject("1", state="CA")), resolve(doc, subject("2", state="NY"))
    assert (ca.policy_name, ca.policy.split_penalty) == ("cand", variant.split_penalty)
    assert "policy:cand" in ca.scopes
    assert (ny.policy_name, ny.policy.split_penalty) == ("base", base.policy.split_penalty)
