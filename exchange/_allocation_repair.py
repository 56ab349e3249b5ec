"""The repair pass of reviewer allocation: swap arcs to remove self-reviews, forbidden and
same-team pairs and reciprocal pairs, every count and load unchanged. Used by ``allocate``."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

from nbcohort.cohorts.services.allocation_rules import Pair, Teams

__all__ = ["repair"]


def repair(
    arcs: list[Pair], team: Teams, rule: str, rng: random.Random, *, soft: bool
) -> list[Pair]:
    """Swap arcs (x->y, u->v) into (x->v, u->y) - every count and load unchanged - while the
    cost (self or forbidden arcs, then same-team arcs, then reciprocal pairs) strictly goes
    down; when stuck, sideways swaps move the bad arcs elsewhere. ``soft`` also targets
    same-team arcs under "prefer" (the flow's are already minimal). Bounded effort."""
    arcs = list(arcs)
    out: dict[str, set[str]] = defaultdict(set)
    for r, a in arcs:
        out[r].add(a)
    require, prefer = rule == "require", rule == "prefer"

    def cost(r: str, a: str) -> int:  # lexicographic: 25 per hard, 5 per soft (deltas <= 2)
        t = team[r]
        same = t is not None and t == team[a]
        return 25 * (r == a or (require and same)) + 5 * (prefer and same)

    def bad(r: str, a: str) -> bool:
        return r in out[a] or cost(r, a) >= (5 if soft else 25)

    def swap(i: int, j: int, sideways: bool) -> bool:
        (x, y), (u, v) = arcs[i], arcs[j]
        if x == u or y == v or v in out[x] or y in out[u]:
            return False
        # only the pairs {x,y}, {u,v} (before) and {x,v}, {u,y} (after) can be reciprocal
        before = cost(x, y) + cost(u, v) + (x != y and x in out[y]) + (u != v and u in out[v])
        before -= x == v and y == u and x != y
        _move(out, x, y, v)
        _move(out, u, v, y)
        after = cost(x, v) + cost(u, y) + (x != v and x in out[v]) + (u != y and u in out[y])
        after -= x == y and u == v
        if after < before or (sideways and after == before):
            arcs[i], arcs[j] = (x, v), (u, y)
            return True
        _move(out, x, v, y)
        _move(out, u, y, v)
        return False

    total, shakes = len(arcs), 0
    budget = min(1_000_000, 20_000 + 100 * total)  # swap attempts
    tries = min(total, 400)
    while budget > 0:
        todo = [i for i, (r, a) in enumerate(arcs) if bad(r, a)]
        if not todo:
            break
        rng.shuffle(todo)
        perm = rng.sample(range(total), total)
        improved = False
        for i in todo:
            if budget <= 0:
                break
            if not bad(*arcs[i]):
                continue
            start = rng.randrange(total)
            partners = itertools.chain(todo, perm[start:], perm[:start])
            for j in itertools.islice(partners, len(todo) + tries):
                budget -= 1
                if j != i and swap(i, j, False):
                    improved = True
                    break
        if not improved:
            shakes += 1
            if shakes > 20:
                break
            for i in todo:  # sideways: the same cost, another place
                any(swap(i, perm[rng.randrange(total)], True) for _ in range(20))
    return arcs


def _move(out: dict[str, set[str]], r: str, old: str, new: str) -> None:
    out[r].discard(old)
    out[r].add(new)
