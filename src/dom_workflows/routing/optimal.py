"""Exact minimum-cost sourcing: branch and bound over node sets, exact assignment inside each.

Outer search: node sets of size 1..max_shipments, enumerated as combinations over candidates
sorted by a single-node lower bound. A set, and every superset reachable below it, is pruned
when a lower bound already exceeds the best plan found.

Inner search: for one node set, the exact cheapest assignment of units (including
backorders). Shipping depends on ceil(weight), so the assignment is not a linear program;
it is enumerated SKU by SKU with a lower bound, which is fine because orders are small.

The lower bound everywhere is the linear relaxation: each unit pays its node's per-unit
handling plus the cheapest per-lb rate times its *exact* weight (ceil only adds), or the
backorder penalty; set members pay their fixed cost (handling per shipment, cheapest base
rate, rule adjustments) and split penalties; nodes that may still join pay theirs either
spread over the units they could ship or, for at least one of them, in full. The order's
first shipment pays no split penalty, so while there is none yet one joiner's is credited
back. Bounds are floats but costs are integer cents, so a small epsilon keeps the pruning
safe. tests/routing/test_search.py checks every bound against exhaustive search per node set.
"""

from __future__ import annotations

from collections.abc import Iterator

from .cost import Alloc, allocation_cost, billable_lb, shipment_total
from .problem import Problem

EPS = 1e-6
Key = tuple[int, int, int, int, tuple[str, ...]]


def _vectors(stocks: list[int], lo: int, hi: int) -> Iterator[list[int]]:
    """All x with 0 <= x[k] <= stocks[k] and lo <= sum(x) <= hi."""
    n = len(stocks)
    suffix_cap = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        suffix_cap[k] = suffix_cap[k + 1] + stocks[k]
    x = [0] * n

    def rec(k: int, total: int) -> Iterator[list[int]]:
        if k == n:
            if total >= lo:
                yield list(x)
            return
        need = max(0, lo - total - suffix_cap[k + 1])
        for q in range(min(stocks[k], hi - total), need - 1, -1):
            x[k] = q
            yield from rec(k + 1, total + q)
        x[k] = 0

    yield from rec(0, 0)


class _Search:
    def __init__(self, prob: Problem) -> None:
        self.prob = prob
        self.rem = prob.remaining
        self.base_ships = prob.base_shipments
        empty = allocation_cost(prob, {})
        # The pickup node's in-place shipment is the same in every plan.
        self.base_cost = empty.total - empty.backorder
        self.k_max = prob.max_shipments - self.base_ships
        self.active = [i for i, r in enumerate(self.rem) if r > 0]
        cands = prob.cands
        self.unit: list[list[float]] = [
            [c.per_unit + c.min_per_lb * w / 1000 for w in prob.weight] for c in cands
        ]
        useful = [j for j, c in enumerate(cands) if any(c.stock[i] > 0 for i in self.active)]
        useful.sort(key=lambda j: (self._single_lb(j), cands[j].node))
        self.order = useful  # search position -> cand index
        self.fixed = [cands[j].fixed for j in useful]
        # A node joining a set pays its fixed cost and one split penalty, spread here over the
        # most units it could possibly ship: a valid per-unit surcharge for the bound below.
        self.amort: list[float] = []
        self.neg_suffix = [0.0] * (len(useful) + 1)
        for p, j in enumerate(useful):
            cap = sum(min(r, cands[j].stock[i]) for i, r in enumerate(self.rem))
            extra = self.fixed[p] + prob.split
            self.amort.append(extra / cap if extra > 0 else 0.0)
        for p in range(len(useful) - 1, -1, -1):
            self.neg_suffix[p] = self.neg_suffix[p + 1] + min(0.0, self.fixed[p] + prob.split)
        # Per active SKU and position q: the cheapest surcharged unit cost among nodes at q or
        # later that stock it (backorder penalty if none is cheaper). Joiners' stock limits are
        # relaxed away, which keeps the bound O(1) per SKU.
        m = len(useful)
        self.suffix_min: list[list[float]] = []
        self.suffix_min_bare: list[list[float]] = []  # same, without the surcharge
        for i in self.active:
            col = [float(prob.backorder)] * (m + 1)
            bare = [float(prob.backorder)] * (m + 1)
            for p in range(m - 1, -1, -1):
                j = useful[p]
                has = cands[j].stock[i] > 0
                col[p] = min(col[p + 1], self.unit[j][i] + self.amort[p] if has else col[p + 1])
                bare[p] = min(bare[p + 1], self.unit[j][i] if has else bare[p + 1])
            self.suffix_min.append(col)
            self.suffix_min_bare.append(bare)
        # The cheapest fixed cost + split penalty of any node from position p on.
        self.suffix_min_extra = [float("inf")] * (m + 1)
        for p in range(m - 1, -1, -1):
            self.suffix_min_extra[p] = min(self.suffix_min_extra[p + 1], self.fixed[p] + prob.split)
        self.best_key: Key = (empty.total, empty.shipments, empty.backordered_units, 0, ())
        self.best_alloc: Alloc = {}

    def _single_lb(self, j: int) -> float:
        c = self.prob.cands[j]
        total = float(c.fixed)
        for i in self.active:
            take = min(self.rem[i], c.stock[i])
            u = min(self.unit[j][i], self.prob.backorder)
            total += take * u + (self.rem[i] - take) * self.prob.backorder
        return total

    def _relax(
        self, items: list[list[tuple[float, int]]], start: int | None, bare: bool = False
    ) -> float:
        """Linear-relaxation cost of all remaining units.

        `items` holds, per active SKU, the set members' (unit cost, stock) cheapest first.
        With `start`, nodes from that position on may join at their surcharged unit cost
        (or `bare` unit cost, when the caller accounts for their fixed cost itself).
        """
        total = 0.0
        table = self.suffix_min_bare if bare else self.suffix_min
        for k, i in enumerate(self.active):
            need = self.rem[i]
            rest = table[k][start] if start is not None else float(self.prob.backorder)
            for cost, stock in items[k]:
                if cost >= rest:
                    break
                take = stock if stock < need else need
                total += take * cost
                need -= take
                if not need:
                    break
            total += need * rest
        return total

    def _with(self, items: list[list[tuple[float, int]]], p: int) -> list[list[tuple[float, int]]]:
        j = self.order[p]
        stock = self.prob.cands[j].stock
        unit = self.unit[j]
        bo = self.prob.backorder
        out = list(items)
        for k, i in enumerate(self.active):
            if stock[i] > 0 and unit[i] < bo:
                out[k] = sorted([*items[k], (unit[i], stock[i])])
        return out

    def _split(self, n: int) -> int:
        ships = self.base_ships + n
        return self.prob.split * (ships - 1) if ships else 0

    def run(self) -> Alloc:
        if self.k_max <= 0 or not self.order:
            return self.best_alloc
        m = len(self.order)
        # Every promising single node first: a good incumbent makes the set search prune early.
        empty: list[list[tuple[float, int]]] = [[] for _ in self.active]
        for p in range(m):
            lb = (
                self.base_cost
                + self.fixed[p]
                + self._split(1)
                + self._relax(self._with(empty, p), None)
            )
            if lb <= self.best_key[0] + EPS:
                self._evaluate([p])
        self._greedy(empty)
        self._dfs([], 0, empty)
        return self.best_alloc

    def _greedy(self, empty: list[list[tuple[float, int]]]) -> None:
        """Grow one set node by node, each time by the node with the lowest bound, to give the
        set search a strong incumbent (no single node covers a big basket)."""
        sel: list[int] = []
        items = empty
        fixed_sum = 0
        m = len(self.order)
        while len(sel) < self.k_max:
            scored = []
            for p in range(m):
                if p in sel:
                    continue
                nxt = self._with(items, p)
                lb = self.base_cost + fixed_sum + self.fixed[p] + self._split(len(sel) + 1)
                scored.append((lb + self._relax(nxt, None), p, nxt))
            if not scored:
                return
            bound, p, items = min(scored, key=lambda s: (s[0], s[1]))
            if bound > self.best_key[0] + EPS:
                return
            sel.append(p)
            fixed_sum += self.fixed[p]
            if len(sel) > 1:
                self._evaluate(sorted(sel))

    def _join_bound(
        self, fixed_sum: int, n: int, items: list[list[tuple[float, int]]], start: int
    ) -> float:
        """Lower bound on every plan that adds nodes from position `start` on to the current set.

        The larger of two bounds: joiners' fixed costs and split penalties spread over the
        units they could ship as surcharges, or at least one joiner paying its fixed cost in full.
        Bonus nodes (negative fixed cost) are counted up front in both.

        Every joiner is charged one split penalty, but the order's first shipment pays none:
        with no shipment yet (no in-place pickup, empty set) one of them is credited back, so
        the constant is `split x (shipments so far - 1)`, negative at the root.
        """
        const = self.base_cost + fixed_sum + self.prob.split * (self.base_ships + n - 1)
        neg = self.neg_suffix[start]
        spread = const + neg + self._relax(items, start)
        if spread > self.best_key[0] + EPS:
            return spread
        one = self.suffix_min_extra[start] if neg == 0 else neg
        return max(spread, const + one + self._relax(items, start, bare=True))

    def _dfs(self, sel: list[int], fixed_sum: int, items: list[list[tuple[float, int]]]) -> None:
        m = len(self.order)
        n = len(sel)
        last = sel[-1] if sel else -1
        if n > 1:
            lb = self.base_cost + fixed_sum + self._split(n) + self._relax(items, None)
            if lb <= self.best_key[0] + EPS:
                self._evaluate(sel)
        if n >= self.k_max:
            return
        for p in range(last + 1, m):
            # Bounds only grow with p, so once they exceed the incumbent no later child can win.
            if self._join_bound(fixed_sum, n, items, p) > self.best_key[0] + EPS:
                return
            child = self._with(items, p)
            if n + 1 == self.k_max:
                # A full set: no further joiners, so only its own bound matters.
                f = fixed_sum + self.fixed[p]
                if self.base_cost + f + self._split(n + 1) + self._relax(child, None) <= (
                    self.best_key[0] + EPS
                ):
                    self._evaluate([*sel, p])
                continue
            self._dfs([*sel, p], fixed_sum + self.fixed[p], child)

    # ------------------------------------------------------------------ inner assignment

    def _evaluate(self, sel: list[int]) -> None:
        prob = self.prob
        cands = [prob.cands[self.order[p]] for p in sel]
        js = [self.order[p] for p in sel]
        n = len(sel)
        bo = prob.backorder
        fixed = sum(c.fixed for c in cands)
        # Per SKU: the possible splits over the set, cheapest (linear) first.
        skus: list[tuple[int, list[tuple[float, list[int], int]]]] = []
        for i in self.active:
            stocks = [c.stock[i] for c in cands]
            cap = sum(stocks)
            need = self.rem[i]
            hi = min(need, cap)
            w = prob.weight[i]
            # Shipping a backordered unit from a node with spare stock raises that shipment by at
            # most per_unit + per_lb * ceil(w); when that never exceeds the penalty, full cover is optimal.
            bo_useful = any(
                s > 0 and c.per_unit + c.max_per_lb * billable_lb(w) > bo
                for c, s in zip(cands, stocks, strict=True)
            )
            lo = 0 if bo_useful else hi
            units = [self.unit[j][i] for j in js]
            opts = []
            for x in _vectors(stocks, lo, hi):
                shipped = sum(x)
                lin = sum(q * u for q, u in zip(x, units, strict=True)) + (need - shipped) * bo
                opts.append((lin, x, need - shipped))
            opts.sort(key=lambda o: o[0])
            skus.append((i, opts))
        # Forced SKUs first (one option), then the most constrained.
        skus.sort(key=lambda s: (len(s[1]), -prob.weight[s[0]]))
        t_max = len(skus)
        suffix_lb = [0.0] * (t_max + 1)
        can_feed = [0] * (t_max + 1)  # positions in the set that still can receive units
        for t in range(t_max - 1, -1, -1):
            i, opts = skus[t]
            suffix_lb[t] = suffix_lb[t + 1] + opts[0][0]
            feed = 0
            for k, c in enumerate(cands):
                if c.stock[i] > 0:
                    feed |= 1 << k
            can_feed[t] = can_feed[t + 1] | feed
        const = self.base_cost + fixed + self._split(n)
        per_unit = [c.per_unit for c in cands]
        per_lb = [c.min_per_lb / 1000 for c in cands]
        units_at = [0] * n
        weight_at = [0] * n
        chosen: list[list[int]] = [[] for _ in range(t_max)]
        names = tuple(sorted(c.node for c in cands))
        priority = sum(c.priority for c in cands)
        seen: set[tuple[int, ...]] = set()

        def rec(t: int, bo_units: int) -> None:
            if t == t_max:
                if not all(units_at):
                    return
                total = self.base_cost + self._split(n) + bo * bo_units
                for k, c in enumerate(cands):
                    total += shipment_total(c, units_at[k], weight_at[k])
                key: Key = (total, self.base_ships + n, bo_units, priority, names)
                if key < self.best_key:
                    self.best_key = key
                    alloc: Alloc = {j: [0] * len(prob.skus) for j in js}
                    for tt, (i, _) in enumerate(skus):
                        for k, q in enumerate(chosen[tt]):
                            alloc[js[k]][i] += q
                    self.best_alloc = alloc
                return
            empty = 0
            for k in range(n):
                if not units_at[k]:
                    empty |= 1 << k
            if empty & ~can_feed[t]:
                return  # some node in the set could no longer ship anything
            # What is left to decide depends only on the units and pounds per node so far, so a
            # state reached twice (e.g. two same-weight SKUs swapped) is explored once.
            state = (t, bo_units, *units_at, *weight_at)
            if state in seen:
                return
            seen.add(state)
            partial: float = const + bo * bo_units
            open_now = can_feed[t]
            for k in range(n):
                partial += per_unit[k] * units_at[k]
                if (open_now >> k) & 1:
                    partial += per_lb[k] * weight_at[k]
                else:  # nothing more can join this shipment: its pounds are final, ceil them
                    partial += cands[k].min_per_lb * billable_lb(weight_at[k])
            i, opts = skus[t]
            w = prob.weight[i]
            rest = suffix_lb[t + 1]
            for lin, x, b in opts:
                if partial + lin + rest > self.best_key[0] + EPS:
                    break  # options are sorted by their linear cost
                for k, q in enumerate(x):
                    units_at[k] += q
                    weight_at[k] += q * w
                chosen[t] = x
                rec(t + 1, bo_units + b)
                for k, q in enumerate(x):
                    units_at[k] -= q
                    weight_at[k] -= q * w

        rec(0, 0)


def solve_optimal(prob: Problem) -> Alloc:
    """The allocation of minimum total cost.

    Ties go to fewer shipments, then fewer backorders, then the nodes the business prefers
    (lower priority numbers), then node ids, so the answer is deterministic.
    """
    return _Search(prob).run()
