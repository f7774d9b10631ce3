"""Evaluate the policy's rules against one order: which fire, and what they do to the network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from .policy import Rule, When


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What rule conditions can look at, resolved once (geocoding already done)."""

    customer_tier: str
    dest_state: str | None
    dest_zip: str | None
    weekday: str | None
    order_value: Decimal
    delivery: str
    order_tags: frozenset[str]
    sku_tags: dict[str, frozenset[str]]  # order SKU -> its tags


@dataclass(slots=True)
class RuleEffects:
    applied: list[str] = field(default_factory=list)
    node_excluded: dict[str, str] = field(default_factory=dict)  # node -> rule
    sku_excluded: dict[tuple[str, str], str] = field(default_factory=dict)  # (node, sku) -> rule
    floors: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    adjustments: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    require_fastest: str | None = None  # name of the rule that asked for it
    max_shipments: tuple[int, str] | None = None


def _matches(when: When, facts: OrderFacts) -> bool:
    """Order-level conditions; SKU tags are handled by the caller because they scope actions."""
    if when.customer_tier is not None and facts.customer_tier not in when.customer_tier:
        return False
    if when.dest_state is not None and (
        facts.dest_state is None
        or facts.dest_state.upper() not in {s.upper() for s in when.dest_state}
    ):
        return False
    if when.dest_zip_prefix is not None and (
        facts.dest_zip is None
        or not any(facts.dest_zip.startswith(p) for p in when.dest_zip_prefix)
    ):
        return False
    if when.weekday is not None and facts.weekday not in when.weekday:
        return False
    if when.min_order_value is not None and facts.order_value < when.min_order_value:
        return False
    if when.max_order_value is not None and facts.order_value > when.max_order_value:
        return False
    if when.delivery is not None and facts.delivery not in when.delivery:
        return False
    return when.order_tags is None or bool(facts.order_tags & set(when.order_tags))


def evaluate_rules(
    rules: Sequence[Rule], facts: OrderFacts, nodes: Sequence[tuple[str, str]]
) -> RuleEffects:
    """Apply every matching rule, in order, to the (node id, node type) pairs of the network.

    Exclusions and floors from a rule with `sku_tags` apply to the tagged SKUs only, so a
    high-margin rule keeps stores out of the parka but not out of the socks in the same order.
    Later rules never undo earlier ones: exclusions accumulate, floors take the maximum,
    adjustments add up and the tightest shipment cap wins.
    """
    eff = RuleEffects()
    for rule in rules:
        if not _matches(rule.when, facts):
            continue
        if rule.when.sku_tags is not None:
            wanted = set(rule.when.sku_tags)
            scoped = [sku for sku, tags in facts.sku_tags.items() if tags & wanted]
            if not scoped:
                continue
            skus: list[str] | None = scoped
        else:
            skus = None
        eff.applied.append(rule.name)
        then = rule.then
        for node_id, node_type in nodes:
            excluded = node_id in then.exclude_nodes or node_type in then.exclude_node_types
            if excluded:
                if skus is None:
                    eff.node_excluded.setdefault(node_id, rule.name)
                else:
                    for sku in skus:
                        eff.sku_excluded.setdefault((node_id, sku), rule.name)
            fl = then.protect_floor
            if fl is not None and fl.selects(node_id, node_type):
                for sku in skus if skus is not None else list(facts.sku_tags):
                    prev = eff.floors.get((node_id, sku))
                    if prev is None or fl.floor > prev[0]:
                        eff.floors[(node_id, sku)] = (fl.floor, rule.name)
            for adj in then.adjust_cost:
                if adj.selects(node_id, node_type):
                    eff.adjustments.setdefault(node_id, []).append((rule.name, adj.amount))
        if then.require_fastest and eff.require_fastest is None:
            eff.require_fastest = rule.name
        if then.max_shipments is not None and (
            eff.max_shipments is None or then.max_shipments < eff.max_shipments[0]
        ):
            eff.max_shipments = (then.max_shipments, rule.name)
    return eff
