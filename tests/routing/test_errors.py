"""Bad input fails with a RoutingError that says what is wrong."""

from __future__ import annotations

import copy

import pytest

from dom_workflows.routing import RoutingError, load_policy, load_scenario, plan_route

from .test_cost import tiny


def plan(data: dict, strategy: str = "optimal") -> None:
    plan_route(load_scenario(data), strategy)


def test_unknown_zip() -> None:
    data = tiny()
    data["order"]["ship_to"] = {"zip": "00000"}
    with pytest.raises(RoutingError, match="00000 is not a known US ZIP code"):
        plan(data)


def test_zip_is_geocoded_offline() -> None:
    data = tiny()
    data["order"]["ship_to"] = {"zip": "67601"}  # Hays, KS
    plan(data)


def test_unknown_sku_in_order() -> None:
    data = tiny()
    data["order"]["lines"].append({"sku": "NOPE", "qty": 1})
    with pytest.raises(RoutingError, match=r"order line 3: unknown SKU 'NOPE'"):
        plan(data)


def test_unknown_pickup_node() -> None:
    data = tiny()
    data["order"].update(delivery="pickup", pickup_node="Z")
    with pytest.raises(RoutingError, match="pickup_node 'Z' is not a known node"):
        plan(data)


def test_pickup_node_must_offer_pickup() -> None:
    data = tiny()
    data["order"].update(delivery="pickup", pickup_node="A")
    with pytest.raises(RoutingError, match="does not offer pickup"):
        plan(data)


def test_unknown_service_level_and_strategy() -> None:
    data = tiny()
    data["order"]["service_level"] = "teleport"
    with pytest.raises(RoutingError, match=r"'teleport' is not in rates\.services"):
        plan(data)
    with pytest.raises(RoutingError, match="unknown strategy 'fastest'"):
        plan(tiny(), "fastest")


def test_missing_and_invalid_fields_name_their_path() -> None:
    data = tiny()
    del data["nodes"][0]["lat"]
    data["order"]["lines"][0]["qty"] = 0
    with pytest.raises(RoutingError) as info:
        load_scenario(data)
    msg = str(info.value)
    assert "nodes.0.lat: Field required" in msg
    assert "order.lines.0.qty" in msg


def test_malformed_json() -> None:
    with pytest.raises(RoutingError, match=r"not valid JSON: .* line 1 column"):
        load_scenario('{"nodes": [')


def test_inventory_naming_an_unknown_node() -> None:
    data = tiny()
    data["inventory"].append({"node": "Q", "sku": "X", "on_hand": 1})
    with pytest.raises(RoutingError, match="unknown node 'Q'"):
        plan(data)


def test_ship_to_needs_a_location() -> None:
    data = tiny()
    data["order"]["ship_to"] = {"state": "KS"}
    with pytest.raises(RoutingError, match="ship_to needs lat/lon or zip"):
        load_scenario(data)


def test_policy_errors() -> None:
    with pytest.raises(RoutingError, match=r"rules.0.then.teleport"):
        load_policy({"rules": [{"name": "x", "then": {"teleport": True}}]})
    with pytest.raises(RoutingError, match="not valid YAML"):
        load_policy("rules: [\n  - {name: x")
    data = copy.deepcopy(tiny())
    data["policy"]["rules"] = [{"then": {}}]
    with pytest.raises(RoutingError, match=r"policy.rules.0.name"):
        load_scenario(data)


def test_load_policy_accepts_path_text_and_dict(tmp_path) -> None:
    text = "split_penalty: 2.5\nmax_shipments: 2\nrules:\n  - {name: r, then: {require_fastest: true}}\n"
    path = tmp_path / "p.yaml"
    path.write_text(text)
    a, b, c = load_policy(path), load_policy(str(path)), load_policy(text)
    assert a == b == c
    assert str(a.split_penalty) == "2.5" and a.rules[0].then.require_fastest
    assert load_policy(a.model_dump()) == a
