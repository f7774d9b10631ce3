"""Recorded orders to replay with `dom whatif`, generated: the routing bench's synthetic network
(as a DOM network file), its policy and N orders, each with the stock of its SKUs, written as
`dom whatif --orders` reads them (one snapshot per line)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from activities.shadow.compare import plan_under
from dom_workflows.routing import Order, Scenario
from workers.bench.routing import POLICY, synthetic_network, synthetic_orders

SLA = {"accept_within": "PT4H", "ship_within": "P2D", "deliver_within": "P10D"}


def network_file(net: dict[str, Any]) -> dict[str, Any]:
    """The synthetic scenario network as a DOM network (dom_workflows.network.Network)."""
    return {
        "currency": "USD",
        "nodes": [{**n, "name": n["id"]} for n in net["nodes"]],
        "skus": [{**s, "name": s["sku"], "price": "40.00"} for s in net["skus"]],
        "rates": net["rates"],
        "sla": {kind: SLA for kind in ("warehouse", "store", "3pl", "dropship")},
    }


def write_sample(
    orders_path: Path,
    network_path: Path,
    policy_path: Path,
    n_orders: int,
    n_nodes: int,
    seed: int,
    *,
    with_live: bool = False,
) -> int:
    """Write the three files; returns the orders written. `with_live`: record each order's
    outcome under the network's policy too, as the DOM records a live decision (a replay then
    plans only the candidate, like `dom whatif --since`)."""
    net = synthetic_network(n_nodes, seed)
    base = Scenario.model_validate({**net, "order": synthetic_orders(net, 1, seed)[0]})
    by_sku: dict[str, list[list[Any]]] = {}
    for p in net["inventory"]:
        by_sku.setdefault(p["sku"], []).append(
            [p["node"], p["sku"], p["on_hand"], p["reserved"], p["safety_stock"]]
        )
    network_path.write_text(json.dumps(network_file(net)))
    policy_path.write_text(json.dumps(POLICY, indent=2))
    with orders_path.open("w", encoding="utf-8") as fh:
        for order in synthetic_orders(net, n_orders, seed):
            skus = sorted({ln["sku"] for ln in order["lines"]})
            stock = [pos for sku in skus for pos in by_sku.get(sku, [])]
            record: dict[str, Any] = {
                "order_id": order["id"],
                "snapshot": {"order": order, "stock": stock, "nodes": {}},
            }
            if with_live:
                sc = base.model_copy(update={"order": Order.model_validate(order)})
                live = plan_under(sc, base.policy)
                if not isinstance(live, str):
                    record["live"] = {
                        **asdict(live),
                        "cost": str(live.cost),
                        "spend": str(live.spend),
                    }
            fh.write(json.dumps(record) + "\n")
    return n_orders
