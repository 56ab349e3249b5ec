"""Late submitters and missed reviews in a published allocation, without breaking the
allocation's rules.

Pure and deterministic like ``allocation``: the same inputs and seed give the same pairs.
Used by ``round_update``; the rules it keeps are in ``services.allocation_rules``. Missed
reviews move by ``services.backup_pool.reassign`` (re-exported here), which a member's leave
uses too.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence

from nbcohort.cohorts.services.allocation_rules import (
    AllocationError,
    Pair,
    check_ids,
    check_k,
    check_rule,
    discouraged,
    forbidden,
    team_map,
)
from nbcohort.cohorts.services.backup_pool import reassign

__all__ = ["add_late", "reassign"]


def add_late(
    pairs: Sequence[Pair],
    late_author: str,
    k: int,
    *,
    seed: int,
    locked: Collection[Pair] = (),
    teams: Mapping[str, str] | None = None,
    team_rule: str = "prefer",
) -> list[Pair]:
    """Bring a late submitter L into a published allocation: k unlocked pairs (A_j, B_j), with
    distinct A's, distinct B's and no A among the B's, become (A_j, L) and (L, B_j). L gets k
    reviewers and reviews k, every other load is unchanged, no reciprocal pair appears."""
    rule = check_rule(team_rule)
    check_k(k)
    L = check_ids("late author", [late_author])[0]
    current = [(r, a) for r, a in pairs]
    if any(L in p for p in current):
        raise AllocationError(f"{L} is already in this allocation")
    members = {x for p in current for x in p} | {L}
    team = team_map(teams, rule, members)
    held = set(locked)
    cands = sorted({p for p in current if p not in held} - {p for p in current if p[0] == p[1]})
    if rule == "require":
        cands = [
            (r, a)
            for r, a in cands
            if not (forbidden(r, L, team, rule) or forbidden(L, a, team, rule))
        ]
    rng = random.Random(seed)
    rng.shuffle(cands)
    cost = {p: discouraged(p[0], L, team, rule) + discouraged(L, p[1], team, rule) for p in cands}
    cands.sort(key=cost.__getitem__)
    picked = _pick(cands, k, cost, 2 * k)
    spent = sum(cost[p] for p in picked or ())
    for budget in range(spent):  # a cheaper choice (fewer team-mates) if there is one
        better = _pick(cands, k, cost, budget)
        if better is not None:
            picked = better
            break
    if picked is None:
        raise AllocationError(
            f"cannot add {L}: no {k} unlocked pairs with distinct reviewers and authors "
            f"(and none of those reviewers among those authors) among {len(cands)} candidates"
            + (f" outside team {team[L]!r}" if rule == "require" and team[L] else "")
        )
    gone = set(picked)
    new = [p for p in current if p not in gone]
    new += [(r, L) for r, _ in picked] + [(L, a) for _, a in picked]
    return new


def _pick(cands: list[Pair], k: int, cost: dict[Pair, int], budget: int) -> list[Pair] | None:
    """Depth-first choice of k candidates (in order) within a cost budget; bounded effort."""
    chosen: list[Pair] = []
    used: set[str] = set()
    steps = 0

    def dfs(start: int, spent: int) -> bool:
        nonlocal steps
        if len(chosen) == k:
            return True
        for idx in range(start, len(cands)):
            steps += 1
            if steps > 200_000 or len(cands) - idx < k - len(chosen):
                return False
            r, a = cands[idx]
            if r in used or a in used or spent + cost[(r, a)] > budget:
                continue
            chosen.append((r, a))
            used.update((r, a))
            if dfs(idx + 1, spent + cost[(r, a)]):
                return True
            chosen.pop()
            used.difference_update((r, a))
        return False

    return list(chosen) if dfs(0, 0) else None
