"""`dom bench routing`: every strategy on the same reproducible synthetic orders, side by side.

The network sits at real US metro coordinates: warehouses at freight hubs, stores in the
largest metros with floor stock, a few 3PLs and drop-shippers, uneven inventory. Orders ship
to metros weighted by population (jittered a few miles), with 1-10 lines.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from dom_workflows.routing.api import STRATEGIES
from dom_workflows.routing.batch import (
    Key,
    Outcome,
    WindowOrder,
    holdings,
    outcome,
    plan_in_sequence,
    reoptimise,
)
from dom_workflows.routing.cost import allocation_cost, shipment_cost
from dom_workflows.routing.models import Order, Scenario
from dom_workflows.routing.problem import build_problem

# (city, state, lat, lon, metro population in thousands)
METROS: list[tuple[str, str, float, float, int]] = [
    ("New York", "NY", 40.7128, -74.0060, 19500),
    ("Los Angeles", "CA", 34.0522, -118.2437, 12900),
    ("Chicago", "IL", 41.8781, -87.6298, 9400),
    ("Dallas", "TX", 32.7767, -96.7970, 7900),
    ("Houston", "TX", 29.7604, -95.3698, 7300),
    ("Washington", "DC", 38.9072, -77.0369, 6300),
    ("Philadelphia", "PA", 39.9526, -75.1652, 6200),
    ("Miami", "FL", 25.7617, -80.1918, 6100),
    ("Atlanta", "GA", 33.7490, -84.3880, 6200),
    ("Boston", "MA", 42.3601, -71.0589, 4900),
    ("Phoenix", "AZ", 33.4484, -112.0740, 5000),
    ("San Francisco", "CA", 37.7749, -122.4194, 4600),
    ("Riverside", "CA", 33.9533, -117.3962, 4600),
    ("Detroit", "MI", 42.3314, -83.0458, 4300),
    ("Seattle", "WA", 47.6062, -122.3321, 4000),
    ("Minneapolis", "MN", 44.9778, -93.2650, 3700),
    ("San Diego", "CA", 32.7157, -117.1611, 3300),
    ("Tampa", "FL", 27.9506, -82.4572, 3300),
    ("Denver", "CO", 39.7392, -104.9903, 3000),
    ("St. Louis", "MO", 38.6270, -90.1994, 2800),
    ("Baltimore", "MD", 39.2904, -76.6122, 2800),
    ("Charlotte", "NC", 35.2271, -80.8431, 2700),
    ("Orlando", "FL", 28.5383, -81.3792, 2700),
    ("San Antonio", "TX", 29.4241, -98.4936, 2600),
    ("Portland", "OR", 45.5152, -122.6784, 2500),
    ("Sacramento", "CA", 38.5816, -121.4944, 2400),
    ("Pittsburgh", "PA", 40.4406, -79.9959, 2300),
    ("Austin", "TX", 30.2672, -97.7431, 2400),
    ("Las Vegas", "NV", 36.1699, -115.1398, 2300),
    ("Cincinnati", "OH", 39.1031, -84.5120, 2200),
    ("Kansas City", "MO", 39.0997, -94.5786, 2200),
    ("Columbus", "OH", 39.9612, -82.9988, 2100),
    ("Indianapolis", "IN", 39.7684, -86.1581, 2100),
    ("Cleveland", "OH", 41.4993, -81.6944, 2100),
    ("Nashville", "TN", 36.1627, -86.7816, 2000),
    ("San Jose", "CA", 37.3382, -121.8863, 2000),
    ("Virginia Beach", "VA", 36.8529, -75.9780, 1800),
    ("Jacksonville", "FL", 30.3322, -81.6557, 1600),
    ("Milwaukee", "WI", 43.0389, -87.9065, 1600),
    ("Raleigh", "NC", 35.7796, -78.6382, 1400),
    ("Oklahoma City", "OK", 35.4676, -97.5164, 1400),
    ("Memphis", "TN", 35.1495, -90.0490, 1300),
    ("Louisville", "KY", 38.2527, -85.7585, 1300),
    ("Salt Lake City", "UT", 40.7608, -111.8910, 1300),
    ("New Orleans", "LA", 29.9511, -90.0715, 1300),
    ("Richmond", "VA", 37.5407, -77.4360, 1300),
    ("Buffalo", "NY", 42.8864, -78.8784, 1100),
    ("Birmingham", "AL", 33.5186, -86.8104, 1100),
    ("Albuquerque", "NM", 35.0844, -106.6504, 900),
    ("Omaha", "NE", 41.2565, -95.9345, 970),
    ("Tucson", "AZ", 32.2226, -110.9747, 1000),
    ("Boise", "ID", 43.6150, -116.2023, 800),
    ("Reno", "NV", 39.5296, -119.8138, 500),
    ("Spokane", "WA", 47.6588, -117.4260, 600),
    ("Des Moines", "IA", 41.5868, -93.6250, 700),
    ("Little Rock", "AR", 34.7465, -92.2896, 750),
    ("Charleston", "SC", 32.7765, -79.9311, 800),
    ("Billings", "MT", 45.7833, -108.5007, 180),
    ("Fargo", "ND", 46.8772, -96.7898, 250),
    ("Anchorage", "AK", 61.2181, -149.9003, 400),
]
# Freight hubs where warehouses, 3PLs and drop-shippers sit (indices into METROS).
HUBS = [
    "Reno",
    "Dallas",
    "Columbus",
    "Memphis",
    "Riverside",
    "Atlanta",
    "Philadelphia",
    "Kansas City",
    "Indianapolis",
    "Salt Lake City",
    "Louisville",
    "Denver",
    "Charlotte",
    "Portland",
    "Chicago",
    "Houston",
    "Sacramento",
    "Nashville",
    "Phoenix",
    "Seattle",
]

RATES: dict[str, Any] = {
    "zones": [
        [50, "1"],
        [150, "2"],
        [300, "3"],
        [600, "4"],
        [1000, "5"],
        [1400, "6"],
        [1800, "7"],
        [None, "8"],
    ],
    "services": {
        "ground": {
            "transit_days": {"1": 1, "2": 2, "3": 2, "4": 3, "5": 4, "6": 5, "7": 5, "8": 6},
            "base": {
                "1": "5.10",
                "2": "5.40",
                "3": "5.70",
                "4": "6.20",
                "5": "6.90",
                "6": "7.60",
                "7": "8.20",
                "8": "8.90",
            },
            "per_lb": {
                "1": "0.32",
                "2": "0.38",
                "3": "0.45",
                "4": "0.56",
                "5": "0.71",
                "6": "0.85",
                "7": "0.98",
                "8": "1.12",
            },
        },
        "express": {
            "transit_days": {"1": 1, "2": 1, "3": 2, "4": 2, "5": 2, "6": 2, "7": 3, "8": 3},
            "base": {
                "1": "9.50",
                "2": "10.40",
                "3": "11.60",
                "4": "13.20",
                "5": "15.10",
                "6": "17.30",
                "7": "19.40",
                "8": "21.90",
            },
            "per_lb": {
                "1": "0.85",
                "2": "0.98",
                "3": "1.15",
                "4": "1.36",
                "5": "1.62",
                "6": "1.88",
                "7": "2.12",
                "8": "2.40",
            },
        },
    },
}

POLICY: dict[str, Any] = {
    "split_penalty": "3.00",
    "max_shipments": 4,
    "backorder_penalty_per_unit": "40.00",
    "rules": [
        {
            "name": "vip-fastest",
            "when": {"customer_tier": ["vip"]},
            "then": {"require_fastest": True},
        },
        {
            "name": "high-margin-from-warehouse",
            "when": {"sku_tags": ["high-margin"], "delivery": ["ship"]},
            "then": {"exclude_node_types": ["store", "dropship"]},
        },
        {
            "name": "store-outerwear-floor",
            "when": {"sku_tags": ["outerwear"]},
            "then": {"protect_floor": {"node_types": ["store"], "floor": 2}},
        },
    ],
}

DEFAULT_PROMISE_DAYS = 5  # promise assumed for orders that state none, for the hit rate


def synthetic_network(n_nodes: int, seed: int) -> dict[str, Any]:
    """A reproducible network of n_nodes (scenario dict without the order)."""
    rng = random.Random(seed)
    by_name = {m[0]: m for m in METROS}
    n_wh = max(1, round(n_nodes * 0.2))
    n_3pl = max(1, round(n_nodes * 0.06)) if n_nodes >= 4 else 0
    n_ds = max(1, round(n_nodes * 0.06)) if n_nodes >= 5 else 0
    n_store = max(0, n_nodes - n_wh - n_3pl - n_ds)
    hubs = [by_name[h] for h in HUBS]
    stores_at = sorted(METROS, key=lambda m: -m[4])
    nodes: list[dict[str, Any]] = []

    def add(kind: str, metro: tuple[str, str, float, float, int], k: int) -> None:
        city, state, lat, lon, _ = metro
        handling = {
            "warehouse": ("1.50", "0.25", None, 1),
            "3pl": ("2.75", "0.40", 400, 3),
            "store": ("4.00", "0.75", 40, 5),
            "dropship": ("3.50", "0.00", 200, 8),
        }[kind]
        services = ["ground"] if kind == "dropship" else ["ground", "express"]
        nodes.append(
            {
                "id": f"{kind}-{city.lower().replace(' ', '-').replace('.', '')}-{k}",
                "type": kind,
                "lat": lat + rng.uniform(-0.05, 0.05),
                "lon": lon + rng.uniform(-0.05, 0.05),
                "priority": handling[3],
                "state": state,
                "handling": {"per_shipment": handling[0], "per_unit": handling[1]},
                "capacity_remaining": handling[2],
                "services": services,
                "pickup": kind == "store",
            }
        )

    for k in range(n_wh):
        add("warehouse", hubs[k % len(hubs)], k)
    for k in range(n_3pl):
        add("3pl", hubs[(n_wh + k) % len(hubs)], k)
    for k in range(n_ds):
        add("dropship", hubs[(n_wh + n_3pl + 2 * k) % len(hubs)], k)
    for k in range(n_store):
        add("store", stores_at[k % len(stores_at)], k)

    skus: list[dict[str, Any]] = []
    kinds = [
        ("apparel", 0.3, 0.9),
        ("footwear", 1.2, 3.2),
        ("gear", 0.7, 6.0),
        ("outerwear", 0.9, 4.5),
        ("bulky", 8.0, 25.0),
        ("electronics", 0.2, 1.5),
    ]
    for s in range(40):
        kind, lo, hi = kinds[s % len(kinds)]
        tags = [kind]
        if rng.random() < 0.2:
            tags.append("high-margin")
        skus.append(
            {"sku": f"SKU-{s:03d}", "weight_lb": round(rng.uniform(lo, hi), 1), "tags": tags}
        )

    inventory = []
    for node in nodes:
        carry = {"warehouse": 0.7, "3pl": 0.5, "store": 0.4, "dropship": 0.25}[node["type"]]
        for sku in skus:
            bulky = "bulky" in sku["tags"]
            if node["type"] == "dropship" and bulky:
                chance = 0.9
            elif node["type"] == "store" and bulky:
                chance = 0.1
            else:
                chance = carry
            if rng.random() >= chance:
                continue
            if node["type"] == "store":
                on_hand, safety = rng.randint(1, 12), 2
            elif node["type"] == "dropship":
                on_hand, safety = rng.randint(20, 200), 0
            else:
                # Uneven: many thin positions, a few deep ones.
                on_hand = int(rng.paretovariate(1.2) * 8) - 4
                safety = 5
            inventory.append(
                {
                    "node": node["id"],
                    "sku": sku["sku"],
                    "on_hand": max(0, on_hand),
                    "reserved": 0,
                    "safety_stock": safety,
                }
            )
    return {"nodes": nodes, "skus": skus, "inventory": inventory, "rates": RATES, "policy": POLICY}


def synthetic_orders(network: dict[str, Any], n_orders: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 1)
    weights = [m[4] for m in METROS]
    skus = [s["sku"] for s in network["skus"]]
    popularity = [1 / (k + 1) ** 0.8 for k in range(len(skus))]  # a long tail
    orders = []
    for n in range(n_orders):
        _, state, lat, lon, _ = rng.choices(METROS, weights)[0]
        n_lines = min(10, 1 + int(rng.expovariate(1 / 2.2)))
        picked: list[str] = []
        while len(picked) < n_lines:
            sku = rng.choices(skus, popularity)[0]
            if sku not in picked:
                picked.append(sku)
        orders.append(
            {
                "id": f"BENCH-{n:05d}",
                "lines": [
                    {"sku": s, "qty": rng.choices([1, 2, 3], [80, 15, 5])[0], "line_id": str(k)}
                    for k, s in enumerate(picked, 1)
                ],
                "ship_to": {
                    "lat": lat + rng.uniform(-0.3, 0.3),
                    "lon": lon + rng.uniform(-0.3, 0.3),
                    "state": state,
                },
                "service_level": "ground",
                "promise_days": 3 if rng.random() < 0.25 else None,
                "customer_tier": "vip" if rng.random() < 0.05 else "standard",
                "weekday": rng.choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
            }
        )
    return orders


@dataclass(slots=True)
class StrategyStats:
    strategy: str
    orders: int
    mean_cost: float
    split_rate: float
    mean_transit_days: float
    promise_hit_rate: float
    backorder_rate: float
    p50_ms: float
    p99_ms: float
    max_lines: int


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_bench(
    n_orders: int = 1000, n_nodes: int = 50, seed: int = 7, tick: Callable[[], object] = bool
) -> list[StrategyStats]:
    """Every strategy on the same orders; `tick` is called after each order (a progress bar),
    outside the timed part."""
    net = synthetic_network(n_nodes, seed)
    base = Scenario.model_validate(
        {
            **net,
            "order": {
                "id": "x",
                "lines": [{"sku": "SKU-000", "qty": 1}],
                "ship_to": {"lat": 40.0, "lon": -90.0},
            },
        }
    )
    scenarios = [
        base.model_copy(update={"order": Order.model_validate(o)})
        for o in synthetic_orders(net, n_orders, seed)
    ]
    # Setup garbage is long-lived, as in a running worker; keep collector passes off it.
    gc.collect()
    gc.freeze()
    results = []
    for name, solve in STRATEGIES.items():
        costs, times, days = [], [], []
        splits = hits = bo_units = units = 0
        for sc in scenarios:
            t0 = time.perf_counter()
            prob = build_problem(sc)
            alloc = solve(prob)
            times.append((time.perf_counter() - t0) * 1000)
            tick()
            ac = allocation_cost(prob, alloc)
            costs.append(ac.total / 100)
            splits += ac.shipments > 1
            bo_units += ac.backordered_units
            units += sum(prob.demand)
            transit = [
                shipment_cost(prob.cands[j], sum(q), 0).transit_days
                for j, q in alloc.items()
                if any(q)
            ]
            if transit:
                days.append(max(transit))
            promise = sc.order.promise_days or DEFAULT_PROMISE_DAYS
            hits += ac.backordered_units == 0 and bool(transit) and max(transit) <= promise
        results.append(
            StrategyStats(
                strategy=name,
                orders=len(scenarios),
                mean_cost=statistics.fmean(costs),
                split_rate=splits / len(scenarios),
                mean_transit_days=statistics.fmean(days) if days else 0.0,
                promise_hit_rate=hits / len(scenarios),
                backorder_rate=bo_units / units,
                p50_ms=_pct(times, 0.5),
                p99_ms=_pct(times, 0.99),
                max_lines=max(len(sc.order.lines) for sc in scenarios),
            )
        )
    gc.unfreeze()
    return results


def as_dicts(stats: list[StrategyStats]) -> list[dict[str, Any]]:
    return [asdict(s) for s in stats]


# ------------------------------------------------------------------- capacity and balancing


@dataclass(slots=True)
class BalanceStats:
    """One simulated day: orders routed one after another with optimal against daily limits."""

    balance_per_utilisation: float  # dollars per shipment per 100% utilisation; 0 = off
    orders: int
    daily_limit: int  # orders per node per day
    mean_cost: float  # dollars per order, without the balancing term itself
    max_utilisation: float  # the most loaded node at the end of the day
    p90_utilisation: float
    nodes_full: int  # nodes at their limit by the end of the day
    orders_meeting_full: int  # orders that had at least one node excluded as full
    backorder_rate: float


def _balance_day(
    net: dict[str, Any],
    orders: list[dict[str, Any]],
    limit: int,
    per_utilisation: Decimal,
    tick: Callable[[], object] = bool,
) -> BalanceStats:
    policy = {**net["policy"], "balance_per_utilisation": str(per_utilisation)}
    base = Scenario.model_validate(
        {**net, "policy": policy, "order": orders[0]}
    )  # validated once; each order copies it with the day's usage. Stock stays as it is (as
    # in the strategy bench), so only capacity and balancing differ between the runs.
    used = {n.id: 0 for n in base.nodes}
    costs: list[float] = []
    meeting_full = bo_units = units = 0
    for o in orders:
        tick()
        nodes = [
            n.model_copy(
                update={
                    "capacity_remaining": limit - used[n.id],
                    "capacity_note": f"{used[n.id]}/{limit} orders today",
                    "utilisation": used[n.id] / limit,
                }
            )
            for n in base.nodes
        ]
        sc = base.model_copy(
            update={
                "nodes": nodes,
                "order": Order.model_validate(o),
            }
        )
        prob = build_problem(sc)
        alloc = STRATEGIES["optimal"](prob)
        ac = allocation_cost(prob, alloc)
        balance = sum(
            a for j, q in alloc.items() if any(q) for r, a in prob.cands[j].adjustments
            if r == "balance"
        )  # fmt: skip
        costs.append((ac.total - balance) / 100)
        meeting_full += any(e.reason.startswith("capacity:") for e in prob.excluded)
        bo_units += ac.backordered_units
        units += sum(prob.demand)
        for j, q in alloc.items():
            if any(q):
                used[prob.cands[j].node] += 1
    shares = sorted(u / limit for u in used.values())
    return BalanceStats(
        balance_per_utilisation=float(per_utilisation),
        orders=len(orders),
        daily_limit=limit,
        mean_cost=statistics.fmean(costs),
        max_utilisation=shares[-1],
        p90_utilisation=_pct(shares, 0.9),
        nodes_full=sum(1 for u in used.values() if u >= limit),
        orders_meeting_full=meeting_full,
        backorder_rate=bo_units / units,
    )


def run_balance_bench(
    n_orders: int = 1000,
    n_nodes: int = 50,
    seed: int = 7,
    per_utilisation: Decimal = Decimal(5),
    tick: Callable[[], object] = bool,
) -> list[BalanceStats]:
    """The same day of orders without and with the balancing term. Every node may take five times
    its even share of the day's orders: enough in total, but the nodes near the big metros fill up
    unless routing spreads the load."""
    net = synthetic_network(n_nodes, seed)
    orders = synthetic_orders(net, n_orders, seed)
    limit = max(2, round(5 * n_orders / n_nodes))
    return [_balance_day(net, orders, limit, p, tick) for p in (Decimal(0), per_utilisation)]


def balance_dicts(stats: list[BalanceStats]) -> list[dict[str, Any]]:
    return [asdict(s) for s in stats]


# ------------------------------------------------------------------- batch re-optimisation


@dataclass(slots=True)
class BatchRunStats:
    """One way of routing the same orders against the same (shared, depleting) stock."""

    run: str
    orders: int
    split_orders: int  # orders in more than one shipment
    split_shipments: int  # shipments beyond each order's first
    cost: float  # dollars: shipping, handling, rule adjustments, split and backorder penalties
    cost_per_order: float
    promises_kept: int  # fully planned and delivered within the promise (5 days when none)
    backordered_units: int
    seconds: float


@dataclass(slots=True)
class BatchBench:
    orders: int
    nodes: int
    seed: int
    window: int  # orders re-planned together
    per_order: BatchRunStats
    batch: BatchRunStats
    split_reduction: float  # percent fewer split shipments than per-order routing
    cost_reduction: float  # percent lower total cost
    # Orders whose own per-order plan (made at arrival) kept the promise and the joint plan not.
    promises_broken: int
    # Orders the all-sequential run kept the promise of and the batch run does not (windows
    # after the first start from different per-order plans, so this can differ).
    promises_broken_vs_per_order_run: int
    # Split shipments had every order its window's stock to itself: splits below this need a
    # costlier plan, so it bounds what any cost-minimising re-plan can remove.
    split_shipments_stock_to_itself: int
    # Share of the avoidable split shipments (per order minus that bound) the batch removed.
    avoidable_split_reduction: float
    moves_tried: int
    moves_accepted: int
    build_seconds: float  # building every order's problem (both runs share them)
    replan_seconds: float  # the joint re-plans alone (per-order plans inside windows excluded)
    replan_cpu_seconds: float  # the same in CPU time (the machine may be shared)


def _run_stats(run: str, outcomes: list[Outcome], seconds: float) -> BatchRunStats:
    cost = sum(o.cost for o in outcomes) / 100
    return BatchRunStats(
        run=run,
        orders=len(outcomes),
        split_orders=sum(o.shipments > 1 for o in outcomes),
        split_shipments=sum(o.extra_shipments for o in outcomes),
        cost=cost,
        cost_per_order=cost / len(outcomes),
        promises_kept=sum(o.promise_kept for o in outcomes),
        backordered_units=sum(o.backordered_units for o in outcomes),
        seconds=seconds,
    )


def _reduction(before: float, after: float) -> float:
    return (1 - after / before) * 100 if before else 0.0


def run_batch_bench(
    n_orders: int = 1000,
    n_nodes: int = 50,
    seed: int = 7,
    window: int = 0,
    tick: Callable[[int], object] = bool,
) -> BatchBench:
    """The per-order bench's orders and stock, routed two ways. Unlike the strategy bench the
    stock is shared: each order sees what the orders before it left.

    - per order: each order alone, in arrival order (today's behaviour);
    - batch: orders arrive in windows of `window` (0 = all at once); inside a window each is
      first routed alone (its per-order plan, reserved at arrival), then the window is re-planned
      jointly before release; the next window sees what the released ones took.

    `tick(n)` is called after each window with the orders done (a progress bar).
    """
    net = synthetic_network(n_nodes, seed)
    orders = synthetic_orders(net, n_orders, seed)
    base = Scenario.model_validate({**net, "order": orders[0]})
    t0 = time.perf_counter()
    problems = [
        build_problem(base.model_copy(update={"order": Order.model_validate(o)})) for o in orders
    ]
    build_seconds = time.perf_counter() - t0
    promise = [o["promise_days"] or DEFAULT_PROMISE_DAYS for o in orders]
    gc.collect()
    gc.freeze()
    t0 = time.perf_counter()
    alone = plan_in_sequence(problems)
    alone_seconds = time.perf_counter() - t0
    alone_out = [outcome(p, a, d) for p, a, d in zip(problems, alone, promise, strict=True)]

    size = window if 0 < window < n_orders else n_orders
    used: dict[Key, int] = {}
    final: list[Outcome] = []
    broken = tried = accepted = bound = 0
    replan = replan_cpu = 0.0
    for start in range(0, n_orders, size):
        probs = problems[start : start + size]
        arrival = plan_in_sequence(probs, used) if start else alone[: len(probs)]
        t0, c0 = time.perf_counter(), time.process_time()
        result = reoptimise(
            [
                WindowOrder(p, a, d)
                for p, a, d in zip(probs, arrival, promise[start : start + size], strict=True)
            ],
            held_elsewhere=used,
        )
        replan += time.perf_counter() - t0
        replan_cpu += time.process_time() - c0
        bound += sum(o.extra_shipments for o in result.alone)
        for key, units in holdings(probs, result.allocs).items():
            used[key] = used.get(key, 0) + units
        final.extend(result.after)
        broken += result.promises_broken
        tried += result.moves_tried
        accepted += result.moves_accepted
        tick(min(n_orders, start + size))
    gc.unfreeze()
    per_order = _run_stats("per order", alone_out, alone_seconds)
    batch = _run_stats("batch", final, replan)
    return BatchBench(
        orders=n_orders,
        nodes=n_nodes,
        seed=seed,
        window=size,
        per_order=per_order,
        batch=batch,
        split_reduction=_reduction(per_order.split_shipments, batch.split_shipments),
        cost_reduction=_reduction(per_order.cost, batch.cost),
        promises_broken=broken,
        promises_broken_vs_per_order_run=sum(
            a.promise_kept and not b.promise_kept for a, b in zip(alone_out, final, strict=True)
        ),
        split_shipments_stock_to_itself=bound,
        avoidable_split_reduction=(
            (per_order.split_shipments - batch.split_shipments)
            / (per_order.split_shipments - bound)
            * 100
            if per_order.split_shipments > bound
            else 0.0
        ),
        moves_tried=tried,
        moves_accepted=accepted,
        build_seconds=build_seconds,
        replan_seconds=replan,
        replan_cpu_seconds=replan_cpu,
    )


def batch_dict(bench: BatchBench) -> dict[str, Any]:
    return asdict(bench)
