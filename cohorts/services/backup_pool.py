"""Who takes over a review its reviewer will not write: the backup pool's rule, pure and
deterministic (the same inputs and seed give the same pairs). Used by the instructor's
``nbcohort review reassign`` (``exchange/round_update.py``, missed and orphaned reviews) and
by a member's leave (``services/leaving_reviews.py``), so both choose the same way. The rules
every allocation keeps are in ``allocation_rules``."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence

from nbcohort.cohorts.services.allocation_rules import (
    AllocationError,
    Pair,
    check_rule,
    discouraged,
    few,
    forbidden,
    team_map,
)

__all__ = ["reassign"]


def reassign(
    pairs: Sequence[Pair],
    missing: Collection[Pair],
    pool: Sequence[str],
    *,
    seed: int,
    loads: Mapping[str, int] | None = None,
    teams: Mapping[str, str] | None = None,
    team_rule: str = "prefer",
    barred: Collection[Pair] = (),
) -> list[Pair]:
    """Give each pair in ``missing`` a new reviewer from ``pool``: never the author, nor one
    who already reviews that author, nor one who missed it, nor a pair in ``barred`` (one
    the round held before: withdrawn or moved away); team rule honoured. Choice:
    no same-team ("prefer"), then no new reciprocal pair, then least loaded (``loads``,
    default: current pairs), then a seeded tie-break. Returns the full list, in place.
    Greedy, one author's missing reviews at a time."""
    rule = check_rule(team_rule)
    current = [(r, a) for r, a in pairs]
    gone = set(missing)
    unknown = sorted(gone - set(current))
    if unknown:
        raise AllocationError(
            f"not in this allocation: {few(f'{r} reviews {a}' for r, a in unknown)}"
        )
    members = sorted(set(pool))
    team = team_map(teams, rule, {x for p in current for x in p} | set(members))
    out: dict[str, set[str]] = defaultdict(set)
    missed: dict[str, set[str]] = defaultdict(set)
    never: dict[str, set[str]] = defaultdict(set)
    for r, a in barred:
        never[a].add(r)
    for r, a in current:
        if (r, a) in gone:
            missed[a].add(r)
        else:
            out[r].add(a)
    load = Counter(r for r, a in current if (r, a) not in gone) if loads is None else Counter(loads)
    rng = random.Random(seed)
    tie = {p: rng.random() for p in members}
    # one author's missing reviews together: picking distinct least-loaded members in a batch
    # keeps the pool's loads within one of each other (when nothing else constrains them)
    order = sorted(missed)
    rng.shuffle(order)
    new: dict[Pair, Pair] = {}
    for r, a in [(r, author) for author in order for r in sorted(missed[author])]:
        cands = [p for p in members if p not in missed[a] | never[a] and a not in out[p]]
        cands = [p for p in cands if not forbidden(p, a, team, rule)]
        if not cands:
            raise AllocationError(
                f"no one in the pool of {len(members)} can review {a} (in place of {r})"
                + (f" from outside team {team[a]!r}" if rule == "require" and team[a] else "")
            )
        best = min(
            cands, key=lambda p: (discouraged(p, a, team, rule), p in out[a], load[p], tie[p])
        )
        out[best].add(a)
        load[best] += 1
        new[(r, a)] = (best, a)
    return [new.get(p, p) for p in current]
