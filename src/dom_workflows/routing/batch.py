"""Joint re-plan of a window of unreleased orders: move units between orders to cut splits and cost.

Routing each order alone, in arrival order, lets an early order take the units a later one
needed to ship in one box; the later order splits. Before the window is released, the orders
are re-planned together (Xu, Allgor & Graves: re-evaluating assignments before release removes
much of the extra splitting). The search here is a local search over the per-order plans, with
the exact per-order optimiser (`optimal.solve_optimal`) as the inner solver:

- every order's *wish* is its optimal plan as if no other order of the window held anything;
- an order whose plan costs more than its wish takes the units its wish needs from the orders
  holding them (the fewest holders that free enough), and those holders are re-planned, scarcest
  first, against what is left (an ejection chain of depth one);
- the move is kept only if the window's total cost (shipping, handling, rule adjustments, split
  and backorder penalties, as the policy prices them) goes down, no order is more backordered
  than its per-order plan, and no order breaks a promise its per-order plan kept.

Stock model. Each order's `Problem` is built against what the window shares: positions minus
every reservation *outside* the window (the window's own holdings are free). An order may use
`stock - units the other orders hold` at a (node, SKU), so the orders together never use more
than exists; units held outside the window but not in the problems (e.g. a previous window
released meanwhile) come in as `held_elsewhere`. A pickup order's in-place units count as used
at its pickup node and are never moved.

Pure and deterministic: orders are visited in a fixed order, ties broken by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .cost import Alloc, allocation_cost
from .optimal import solve_optimal
from .problem import Problem

Key = tuple[str, str]  # (node, SKU)

# An order may displace at most this many holders in one move: more rarely pays and costs solves.
MAX_DISPLACED = 3
MAX_PASSES = 3
# Partners tried one at a time for a split order, most units in its way first (on the bench,
# 8 instead of 2 doubles the solves and adds about a point of cost reduction).
MAX_PARTNERS = 8


@dataclass(frozen=True, slots=True)
class WindowOrder:
    problem: Problem  # built against the window's shared stock (see the module docstring)
    alloc: Alloc  # its per-order plan
    promise_days: int | None = None  # the delivery promise; None: only backorders break it


@dataclass(frozen=True, slots=True)
class Outcome:
    cost: int  # cents, as allocation_cost prices it
    shipments: int
    backordered_units: int
    delivery_days: int | None
    promise_kept: bool

    @property
    def extra_shipments(self) -> int:
        """Split shipments: every shipment beyond the order's first."""
        return max(0, self.shipments - 1)


@dataclass(slots=True)
class BatchResult:
    allocs: list[Alloc]
    before: list[Outcome]
    after: list[Outcome]
    # Each order's plan had it the window's stock to itself: a bound no joint plan passes
    # for every order at once (how many of the splits are inevitable).
    alone: list[Outcome] = field(default_factory=list)
    moves_tried: int = 0
    moves_accepted: int = 0
    passes: int = 0

    @property
    def cost_before(self) -> int:
        return sum(o.cost for o in self.before)

    @property
    def cost_after(self) -> int:
        return sum(o.cost for o in self.after)

    @property
    def promises_broken(self) -> int:
        """Orders whose per-order plan kept the promise and whose joint plan does not."""
        return sum(
            b.promise_kept and not a.promise_kept
            for b, a in zip(self.before, self.after, strict=True)
        )


def outcome(prob: Problem, alloc: Alloc, promise_days: int | None) -> Outcome:
    ac = allocation_cost(prob, alloc)
    days = [prob.cands[j].transit_days for j, q in alloc.items() if any(q)]
    if prob.pickup is not None and prob.forced and any(prob.forced):
        days.append(0)
    delivery = max(days, default=None)
    kept = ac.backordered_units == 0 and (
        promise_days is None or (delivery is not None and delivery <= promise_days)
    )
    return Outcome(ac.total, ac.shipments, ac.backordered_units, delivery, kept)


def _keys(prob: Problem) -> list[list[Key]]:
    return [[(c.node, sku) for sku in prob.skus] for c in prob.cands]


def _with_stock(prob: Problem, stock: list[list[int]]) -> Problem:
    cands = [replace(c, stock=s) for c, s in zip(prob.cands, stock, strict=True)]
    return replace(prob, cands=cands)


def plan_in_sequence(
    problems: Sequence[Problem], held_elsewhere: Mapping[Key, int] | None = None
) -> list[Alloc]:
    """Today's behaviour: each order routed alone, in arrival order, against what the orders
    before it left (every problem built against the same shared stock)."""
    used: dict[Key, int] = dict(held_elsewhere or {})
    allocs: list[Alloc] = []
    for prob in problems:
        _add_forced(used, prob, 1)
        keys = _keys(prob)
        stock = [
            [max(0, s - used.get(k, 0)) for s, k in zip(c.stock, ks, strict=True)]
            for c, ks in zip(prob.cands, keys, strict=True)
        ]
        alloc = {j: q for j, q in solve_optimal(_with_stock(prob, stock)).items() if any(q)}
        for j, q in alloc.items():
            for k, x in zip(keys[j], q, strict=True):
                if x:
                    used[k] = used.get(k, 0) + x
        allocs.append(alloc)
    return allocs


def holdings(problems: Sequence[Problem], allocs: Sequence[Alloc]) -> dict[Key, int]:
    """Units the orders' plans take per (node, SKU), a pickup's in-place units included."""
    used: dict[Key, int] = {}
    for prob, alloc in zip(problems, allocs, strict=True):
        _add_forced(used, prob, 1)
        for j, q in alloc.items():
            for sku, x in zip(prob.skus, q, strict=True):
                if x:
                    key = (prob.cands[j].node, sku)
                    used[key] = used.get(key, 0) + x
    return used


def _add_forced(used: dict[Key, int], prob: Problem, sign: int) -> None:
    # A pickup order's in-place units come from the pickup node's stock too.
    if prob.pickup is not None and prob.forced:
        for sku, q in zip(prob.skus, prob.forced, strict=True):
            if q:
                key = (prob.pickup.node, sku)
                used[key] = used.get(key, 0) + sign * q


@dataclass(slots=True)
class _Window:
    orders: Sequence[WindowOrder]
    used: dict[Key, int]
    allocs: list[Alloc]
    now: list[Outcome]
    first: list[Outcome]
    keys: list[list[list[Key]]] = field(default_factory=list)
    # order -> cand indices its promise allows (all, unless the per-order plan kept a dated promise)
    allowed: list[frozenset[int]] = field(default_factory=list)
    holders: dict[Key, dict[int, int]] = field(default_factory=dict)
    wish_cost: list[int | None] = field(default_factory=list)
    wish_alloc: list[Alloc] = field(default_factory=list)
    wish_outcome: list[Outcome | None] = field(default_factory=list)
    tried: int = 0
    accepted: int = 0
    changed: set[Key] = field(default_factory=set)  # positions accepted moves changed this pass
    reach_cache: dict[int, dict[str, list[tuple[Key, int]]]] = field(default_factory=dict)

    def setup(self) -> None:
        for o, w in enumerate(self.orders):
            prob = w.problem
            self.keys.append(_keys(prob))
            dated = self.first[o].promise_kept and w.promise_days is not None
            self.allowed.append(
                frozenset(
                    j
                    for j, c in enumerate(prob.cands)
                    if not dated or c.transit_days <= (w.promise_days or 0)
                )
            )
            _add_forced(self.used, prob, 1)
            self._hold(o, self.allocs[o], 1)
            self.wish_cost.append(None)
            self.wish_alloc.append({})
            self.wish_outcome.append(None)

    def _hold(self, o: int, alloc: Alloc, sign: int) -> None:
        keys = self.keys[o]
        for j, q in alloc.items():
            for k, x in zip(keys[j], q, strict=True):
                if not x:
                    continue
                self.used[k] = self.used.get(k, 0) + sign * x
                held = self.holders.setdefault(k, {})
                left = held.get(o, 0) + sign * x
                if left:
                    held[o] = left
                else:
                    held.pop(o, None)

    def _problem(self, o: int, ignore_others: bool = False) -> Problem:
        """Order o's problem with the stock it may use now (o's own units released)."""
        prob = self.orders[o].problem
        allowed = self.allowed[o]
        stock = []
        for j, (c, ks) in enumerate(zip(prob.cands, self.keys[o], strict=True)):
            if j not in allowed:
                stock.append([0] * len(c.stock))
            elif ignore_others:
                stock.append(list(c.stock))
            else:
                stock.append(
                    [max(0, s - self.used.get(k, 0)) for s, k in zip(c.stock, ks, strict=True)]
                )
        return _with_stock(prob, stock)

    def _solve(self, prob: Problem) -> Alloc:
        return {j: q for j, q in solve_optimal(prob).items() if any(q)}

    def wish(self, o: int) -> int:
        cost = self.wish_cost[o]
        if cost is None:
            prob = self._problem(o, ignore_others=True)
            alloc = self._solve(prob)
            w = self.orders[o]
            best = outcome(w.problem, alloc, w.promise_days)
            cost = best.cost
            self.wish_cost[o], self.wish_alloc[o], self.wish_outcome[o] = cost, alloc, best
        return cost

    def _ok(self, o: int, new: Outcome) -> bool:
        first = self.first[o]
        if new.backordered_units > first.backordered_units:
            return False
        return new.promise_kept or not first.promise_kept

    def _displaced(self, a: int) -> tuple[list[int], dict[int, dict[Key, int]]] | None:
        """The fewest holders that free what order a's wish needs and the units each would give
        up, or None if too many."""
        short: dict[Key, int] = {}
        own: dict[Key, int] = {}
        keys = self.keys[a]
        for j, q in self.allocs[a].items():
            for k, x in zip(keys[j], q, strict=True):
                if x:
                    own[k] = own.get(k, 0) + x
        cands = self.orders[a].problem.cands
        for j, q in self.wish_alloc[a].items():
            for i, (k, x) in enumerate(zip(keys[j], q, strict=True)):
                if not x:
                    continue
                free = cands[j].stock[i] - (self.used.get(k, 0) - own.get(k, 0))
                if x > free:
                    short[k] = x - free
        chosen: list[int] = []
        lost: dict[int, dict[Key, int]] = {}
        for k, need in sorted(short.items()):
            held = self.holders.get(k, {})
            others = sorted((o for o in held if o != a), key=lambda o: (-held[o], o))
            for o in others:
                if need <= 0:
                    break
                if o not in chosen:
                    chosen.append(o)
                lost.setdefault(o, {})[k] = min(need, held[o])
                need -= held[o]
            if need > 0:
                return None  # held outside the window's orders (a pickup's in-place units)
        return (chosen, lost) if len(chosen) <= MAX_DISPLACED else None

    def _partners(self, a: int) -> list[tuple[int, dict[Key, int]]]:
        """Orders holding, at a node order a already ships from, units of a SKU that a gets
        from elsewhere (or not at all): with them, a could drop a shipment. Most units first."""
        prob = self.orders[a].problem
        alloc = self.allocs[a]
        keys = self.keys[a]
        got = [sum(q[i] for q in alloc.values()) for i in range(len(prob.skus))]
        weight: dict[int, int] = {}
        lost: dict[int, dict[Key, int]] = {}
        for j, q in sorted(alloc.items()):
            if j not in self.allowed[a]:
                continue
            for i, k in enumerate(keys[j]):
                if prob.cands[j].stock[i] == 0 or q[i] >= prob.demand[i]:
                    continue
                if got[i] == q[i] and got[i] == prob.remaining[i]:
                    continue  # all of this SKU already comes from this node
                for o, x in self.holders.get(k, {}).items():
                    if o != a:
                        weight[o] = weight.get(o, 0) + x
                        lost.setdefault(o, {})[k] = min(x, prob.demand[i] - q[i])
        return [(o, lost[o]) for o in sorted(weight, key=lambda o: (-weight[o], o))]

    def improve(self, a: int) -> bool:
        """Try order a's moves: towards its wish, then one partner at a time; first gain wins."""
        found = self._displaced(a)
        displaced: list[int] = []
        if found is not None:
            displaced, lost = found
            if not self._hopeless(a, lost) and self.move(a, displaced):
                return True
        if self.now[a].shipments < 2:
            return False
        partners = [(b, lost) for b, lost in self._partners(a) if b not in displaced]
        return any(
            self.move(a, [b])
            for b, lost in partners[:MAX_PARTNERS]
            if not self._hopeless(a, {b: lost})
        )

    def _hopeless(self, a: int, lost: dict[int, dict[Key, int]]) -> bool:
        """A check before any solve: an order that gives up units of a SKU it finds nowhere
        else (free stock, or units the other moving orders hold) and may not be more
        backordered would fail the move. A prune, not a proof: order a may end up taking fewer
        units than assumed; measured on the bench it halves the solves and keeps ~95% of the gain.
        """
        group = {a, *lost}
        for b, keys in lost.items():
            slack = self.first[b].backordered_units - self.now[b].backordered_units
            need: dict[str, int] = {}
            for (_, sku), x in keys.items():
                need[sku] = need.get(sku, 0) + x
            reach = self._reach_stock(b)
            for sku, x in need.items():
                if x <= slack:
                    continue
                supply = 0
                for k, stock in reach.get(sku, ()):
                    if k in keys:
                        continue  # a takes these
                    held = self.holders.get(k, {})
                    supply += max(0, stock - self.used.get(k, 0))
                    supply += sum(held.get(g, 0) for g in group if g != b)
                    if supply + slack >= x:
                        break
                if supply + slack < x:
                    return True
        return False

    def _reach_stock(self, o: int) -> dict[str, list[tuple[Key, int]]]:
        """Per SKU, the positions order o's promise allows and the units it may use there."""
        cached = self.reach_cache.get(o)
        if cached is None:
            prob = self.orders[o].problem
            cached = {}
            for j, (c, ks) in enumerate(zip(prob.cands, self.keys[o], strict=True)):
                if j in self.allowed[o]:
                    for s, k in zip(c.stock, ks, strict=True):
                        if s > 0:
                            cached.setdefault(k[1], []).append((k, s))
            self.reach_cache[o] = cached
        return cached

    def move(self, a: int, displaced: list[int]) -> bool:
        """Re-plan order a with the displaced orders' units free, then re-plan them after it."""
        displaced = list(displaced)
        self.tried += 1
        group = [a, *displaced]
        saved = {o: self.allocs[o] for o in group}
        old_cost = sum(self.now[o].cost for o in group)
        for o in group:
            self._hold(o, self.allocs[o], -1)
        # The order that wants the units first, then the displaced ones, scarcest first.
        displaced.sort(key=lambda o: (self._supply(o), o))
        new: dict[int, tuple[Alloc, Outcome]] = {}
        for o in [a, *displaced]:
            alloc = self._solve(self._problem(o))
            self._hold(o, alloc, 1)
            w = self.orders[o]
            new[o] = (alloc, outcome(w.problem, alloc, w.promise_days))
            if o == a and (new[a][1].cost >= self.now[a].cost or not self._ok(a, new[a][1])):
                break  # a gained nothing from the freed units: the displaced cannot gain either
        new_cost = sum(out.cost for _, out in new.values())
        done = len(new) == len(group)
        if done and new_cost < old_cost and all(self._ok(o, out) for o, (_, out) in new.items()):
            for o, (alloc, out) in new.items():
                self._touch(o, saved[o])
                self._touch(o, alloc)
                self.allocs[o], self.now[o] = alloc, out
            self.accepted += 1
            return True
        for o, (alloc, _) in new.items():
            self._hold(o, alloc, -1)
        for o in group:
            self._hold(o, saved[o], 1)
        return False

    def _touch(self, o: int, alloc: Alloc) -> None:
        for j, q in alloc.items():
            self.changed.update(k for k, x in zip(self.keys[o][j], q, strict=True) if x)

    def reachable(self, o: int) -> frozenset[Key]:
        """The (node, SKU) positions order o could draw from."""
        prob = self.orders[o].problem
        return frozenset(
            k
            for j, (c, ks) in enumerate(zip(prob.cands, self.keys[o], strict=True))
            if j in self.allowed[o]
            for s, k in zip(c.stock, ks, strict=True)
            if s > 0
        )

    def _supply(self, o: int) -> int:
        """Units the order could still find (fewer = scarcer, planned earlier)."""
        prob = self.orders[o].problem
        return sum(
            max(0, s - self.used.get(k, 0))
            for j, (c, ks) in enumerate(zip(prob.cands, self.keys[o], strict=True))
            if j in self.allowed[o]
            for s, k in zip(c.stock, ks, strict=True)
        )


def reoptimise(
    orders: Sequence[WindowOrder],
    held_elsewhere: Mapping[Key, int] | None = None,
    max_passes: int = MAX_PASSES,
) -> BatchResult:
    """Re-plan the window's orders jointly; never worse in total, never breaking a kept promise.

    Each pass visits the orders whose plan costs more than their wish, biggest gap first, and
    tries one move each; passes repeat while a move was accepted.
    """
    first = [outcome(w.problem, w.alloc, w.promise_days) for w in orders]
    win = _Window(
        orders=orders,
        used=dict(held_elsewhere or {}),
        allocs=[dict(w.alloc) for w in orders],
        now=list(first),
        first=first,
    )
    win.setup()
    passes = 0
    todo_from: set[int] | None = None  # after the first pass: orders near what moved
    for _ in range(max_passes):
        passes += 1
        visit = range(len(orders)) if todo_from is None else sorted(todo_from)
        gaps = [(win.wish(o) - win.now[o].cost, o) for o in visit]
        todo = [o for gap, o in sorted(gaps) if gap < 0]
        win.changed = set()
        moved = False
        for o in todo:
            if win.now[o].cost > win.wish(o) and win.improve(o):
                moved = True
        if not moved:
            break
        # Only an order that could draw from a position a move changed can find a new move.
        todo_from = {o for o in range(len(orders)) if not win.changed.isdisjoint(win.reachable(o))}
    return BatchResult(
        allocs=win.allocs,
        before=first,
        after=win.now,
        alone=[out for out in win.wish_outcome if out is not None],
        moves_tried=win.tried,
        moves_accepted=win.accepted,
        passes=passes,
    )
