"""Reviewer allocation for a review round: which members review whose submission.

Pure and deterministic (no database, no I/O): inputs are sorted before anything is shuffled
with ``random.Random(seed)``, so the same inputs and seed give the same pairs in any order.

How ``allocate`` decides, fastest first:

- authors review each other, no team constraint: a shuffled circle, reviewer at position i
  reviews i+1..i+k. Exactly k each, loads k, and no reciprocal pair when n >= 2k+1 (offsets d
  and n-d never both lie in 1..k). Below that the reciprocal pairs are the minimum possible,
  kn - n(n-1)/2, since kn arcs share n(n-1)/2 unordered pairs.
- authors review each other with teams ("prefer"/"require"): teams contiguous on a shuffled
  circle, offsets T..T+k-1 (T = largest team). A team is an arc of at most T positions, so
  offsets in [T, n-T] never meet a team-mate; with n >= 2T+2k-1 no offset d has n-d in the
  set either: no same-team and no reciprocal pair.
- otherwise, small cases (authors x reviewers <= FLOW_MAX_EDGES, about n <= 300 when authors
  review each other; the limit keeps it fast): an exact min-cost flow (network simplex)
  with balanced loads, same-team arcs absent ("require") or costly ("prefer", so their number
  is minimal), then a repair pass that swaps arcs to remove reciprocal pairs without adding a
  same-team one. Infeasible flows raise AllocationError naming who cannot be covered.
- larger cases off the fast paths (a team near half the cohort, a separate reviewer pool):
  a construction with exact counts and loads (circle with the best offsets, or consecutive
  blocks of a k-fold author stream), then the same repair pass, which also removes
  self-reviews and same-team arcs. This is a heuristic: under "require" it raises
  AllocationError if the repair leaves a same-team pair, and "prefer" is then best effort.

Late submitters and missed reviews, after publishing, are in ``reallocation``; the rules
both keep (team rules, forbidden and discouraged pairs) in ``services.allocation_rules``.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from nbcohort.cohorts.services.allocation_rules import (
    TEAM_RULES,
    AllocationError,
    Pair,
    Teams,
    check_ids,
    check_k,
    check_rule,
    discouraged,
    few,
    forbidden,
    team_map,
)
from nbcohort.exchange._allocation_repair import repair as _repair

__all__ = [
    "FLOW_MAX_EDGES",
    "TEAM_RULES",
    "AllocationError",
    "Pair",
    "allocate",
    "check",
]

FLOW_MAX_EDGES = 90_000


# -- allocate ---------------------------------------------------------------------------------
def allocate(
    authors: Sequence[str],
    k: int,
    *,
    seed: int,
    teams: Mapping[str, str] | None = None,
    team_rule: str = "prefer",
    reviewers: Sequence[str] | None = None,
) -> list[Pair]:
    """Give each author exactly ``k`` distinct reviewers, nobody their own work, reviewer loads
    within one of each other, no reciprocal pair when avoidable, and the team rule honoured
    ("require": never a team-mate; "prefer": as few as possible; "ignore"). ``teams`` maps
    member -> team ("" or missing: no team); ``reviewers`` defaults to the authors. Returns
    sorted (reviewer, author) pairs; raises AllocationError before any work if impossible."""
    rule = check_rule(team_rule)
    check_k(k)
    A = check_ids("authors", authors)
    R = A if reviewers is None else check_ids("reviewers", reviewers)
    mutual = A == R
    _check_sizes(A, R, k, mutual=mutual)
    team = team_map(teams, rule, itertools.chain(A, R))
    if rule == "require":
        _check_teams(A, R, k, team)
    rng = random.Random(seed)
    sizes = Counter(t for t in team.values() if t is not None)
    T = max(sizes.values(), default=1)
    n = len(A)
    if mutual and T <= 1:
        arcs = _circle(_shuffled(A, rng), range(1, k + 1))
    elif mutual and n >= 2 * T + 2 * k - 1:
        arcs = _circle(_team_order(A, team, rng), range(T, T + k))
    else:
        if len(A) * len(R) <= FLOW_MAX_EDGES:
            arcs, soft = _flow(A, R, k, team, rule, rng), False
        elif mutual:
            order = _team_order(A, team, rng)
            arcs = _circle(order, _best_offsets(n, k, list(sizes.values()), rng))
            least = sum(k * max(0, 2 * s - n) for s in sizes.values())  # a team over half
            soft = sum(discouraged(r, a, team, rule) for r, a in arcs) > least
        else:
            arcs, soft = _blocks(A, R, k, rng), True
        arcs = _repair(arcs, team, rule, rng, soft=soft)
        left = [f"{r} reviews {a}" for r, a in arcs if forbidden(r, a, team, rule)]
        if left:
            raise AllocationError(
                f"no allocation found of {k} reviewers for each of {n} authors with team rule "
                f"{rule!r} ({len(left)} pair(s) left: {few(left)}); the exact search only "
                f"runs up to {FLOW_MAX_EDGES} author x reviewer pairs"
            )
    return sorted(arcs)


def _check_sizes(A: list[str], R: list[str], k: int, *, mutual: bool) -> None:
    n, m = len(A), len(R)
    if mutual and n < k + 1:
        raise AllocationError(
            f"{k} reviewer{'s' * (k > 1)} per submission need{'s' * (k == 1)} at least "
            f"{k + 1} authors; there are {n}"
        )
    if n == 0:
        raise AllocationError("no authors to allocate")
    in_r, in_a = set(R), set(A)
    short = [a for a in A if m - (a in in_r) < k]
    if short:
        raise AllocationError(
            f"reviewer pool too small: {m} reviewer(s) cannot give {few(short)} "
            f"{k} reviewers other than themselves"
        )
    q, rem = divmod(k * n, m)
    cap = {r: n - (r in in_a) for r in R}
    if any(c < q for c in cap.values()) or sum(c > q for c in cap.values()) < rem:
        raise AllocationError(
            f"{k * n} reviews spread over {m} reviewers means {q}{'-' + str(q + 1) if rem else ''}"
            f" each, more than the {n} authors allow (nobody reviews themselves)"
        )


def _check_teams(A: list[str], R: list[str], k: int, team: Teams) -> None:
    """Per-team necessary conditions for "require" (supply and demand across the team's
    border); raises naming every team that fails one."""
    n, m = len(A), len(R)
    q, rem = divmod(k * n, m)
    in_a = Counter(t for a in A if (t := team[a]) is not None)
    in_r = Counter(t for r in R if (t := team[r]) is not None)
    problems = []
    for t in sorted(set(in_a) | set(in_r)):
        na, nr = in_a[t], in_r[t]
        out_r, out_a = m - nr, n - na
        extra = min(rem, out_r)
        cap_in = extra * min(q + 1, na) + (out_r - extra) * min(q, na)
        must_out = q * nr + max(0, rem - out_r)
        cap_out = out_a * min(k, nr)
        head = f"team {t!r} ({na} of {n} authors, {nr} of {m} reviewers)"
        if na and out_r < k:
            problems.append(
                f"{head}: its authors need {k} reviewers from outside it, there are {out_r}"
            )
        elif k * na > cap_in:
            problems.append(
                f"{head}: its authors need {k * na} reviews from outside it, the "
                f"{out_r} reviewers outside can give at most {cap_in}"
            )
        elif must_out > cap_out:
            problems.append(
                f"{head}: its reviewers must give {must_out} reviews outside it, "
                f"the {out_a} authors outside can take at most {cap_out}"
            )
    if problems:
        raise AllocationError("team rule 'require' is impossible: " + "; ".join(problems))


def _shuffled(items: Sequence[str], rng: random.Random) -> list[str]:
    out = sorted(items)
    rng.shuffle(out)
    return out


def _team_order(A: list[str], team: Teams, rng: random.Random) -> list[str]:
    """Authors on a circle: each team contiguous, teams and members shuffled."""
    groups: dict[str, list[str]] = defaultdict(list)
    blocks = []
    for a in A:
        t = team[a]
        if t is None:
            blocks.append([a])
        else:
            groups[t].append(a)
    blocks += [_shuffled(groups[t], rng) for t in sorted(groups)]
    rng.shuffle(blocks)
    return [a for block in blocks for a in block]


def _circle(order: list[str], offsets: Iterable[int]) -> list[Pair]:
    n = len(order)
    return [(order[i], order[(i + d) % n]) for d in offsets for i in range(n)]


def _best_offsets(n: int, k: int, sizes: list[int], rng: random.Random) -> list[int]:
    """k circle offsets with the fewest same-team arcs (teams contiguous), then the fewest
    reciprocal pairs (d and n-d both chosen, or d = n/2)."""
    same = [0] * n
    for s, count in Counter(sizes).items():
        for d in range(1, min(s, n)):  # i and i+d both inside an arc of s positions
            same[d] += count * (s - d)
            same[n - d] += count * (s - d)
    cands = list(range(1, n))
    rng.shuffle(cands)
    cands.sort(key=same.__getitem__)
    chosen: list[int] = []
    for _, level in itertools.groupby(cands, key=same.__getitem__):
        group = list(level)
        for d in group:
            if len(chosen) < k and 2 * d != n and n - d not in chosen:
                chosen.append(d)
        for d in group:
            if len(chosen) < k and d not in chosen:
                chosen.append(d)
        if len(chosen) == k:
            break
    return chosen


def _blocks(A: list[str], R: list[str], k: int, rng: random.Random) -> list[Pair]:
    """Consecutive blocks of a k-fold shuffled author stream, one per reviewer: each block
    (at most n long) holds distinct authors and each author's k slots land in k blocks."""
    n, m = len(A), len(R)
    q, rem = divmod(k * n, m)
    stream = _shuffled(A, rng)
    in_a = set(A)
    order = _shuffled(R, rng)
    order.sort(key=lambda r: q + 1 > n - (r in in_a))  # who can take one more comes first
    arcs: list[Pair] = []
    pos = 0
    for i, r in enumerate(order):
        load = q + (i < rem)
        arcs.extend((r, stream[t % n]) for t in range(pos, pos + load))
        pos += load
    return arcs


def _flow(
    A: list[str], R: list[str], k: int, team: Teams, rule: str, rng: random.Random
) -> list[Pair]:
    """Exact min-cost flow: reviewer i supplies floor(kn/m), a source adds the remainder one
    unit per reviewer, author j demands k; same-team arcs absent or costly."""
    import networkx as nx

    n, m = len(A), len(R)
    q, rem = divmod(k * n, m)
    heavy = 4 * (k * n + m) + 1  # more than all the random tie-break costs together
    G = nx.DiGraph()
    G.add_nodes_from((i, {"demand": -q}) for i in range(m))
    G.add_nodes_from((m + j, {"demand": k}) for j in range(n))
    if rem:
        G.add_node(-1, demand=-rem)
        G.add_edges_from((-1, i, {"capacity": 1, "weight": rng.randrange(4)}) for i in range(m))
    for i, r in enumerate(R):
        for j, a in enumerate(A):
            same = team[r] is not None and team[r] == team[a]
            if r != a and not (same and rule == "require"):
                G.add_edge(i, m + j, capacity=1, weight=heavy * same + rng.randrange(4))
    try:
        flow = nx.network_simplex(G)[1]
    except nx.NetworkXUnfeasible:
        raise AllocationError(_uncovered(G, m, A, k, team, rule)) from None
    return [(R[i], A[j - m]) for i in range(m) for j, f in flow[i].items() if f and j >= m]


def _uncovered(G: object, m: int, A: list[str], k: int, team: Teams, rule: str) -> str:
    """Why the flow is infeasible: a max flow shows which authors stay short."""
    import networkx as nx

    H = nx.DiGraph(G)
    for node, demand in list(H.nodes(data="demand")):
        if demand < 0:
            H.add_edge("source", node, capacity=-demand)
        elif demand > 0:
            H.add_edge(node, "sink", capacity=demand)
    _, flow = nx.maximum_flow(H, "source", "sink")
    short = [A[j] for j in range(len(A)) if flow[m + j]["sink"] < k]
    teams = sorted({t for a in short if (t := team[a]) is not None})
    where = f" in team(s) {few(map(repr, teams))}" if teams and rule == "require" else ""
    return (
        f"no exact allocation of {k} reviewers for each of {len(A)} authors with balanced loads"
        f" and team rule {rule!r}: {few(short)}{where} cannot be covered"
    )


# -- check ------------------------------------------------------------------------------------
def check(
    pairs: Sequence[Pair],
    k: int,
    *,
    authors: Sequence[str],
    reviewers: Sequence[str] | None = None,
    teams: Mapping[str, str] | None = None,
    team_rule: str = "prefer",
) -> list[str]:
    """The allocate invariants an allocation breaks, as sentences (empty: fit to publish).
    Reciprocal pairs (and, under "prefer", same-team pairs) count only where they are provably
    avoidable: authors review each other and n >= 2T+2k-1 (resp. 2T+k-1), T = largest team."""
    rule = check_rule(team_rule)
    A, R = list(authors), list(authors if reviewers is None else reviewers)
    in_a, in_r = set(A), set(R)
    plist = [(r, a) for r, a in pairs]
    team = team_map(teams, rule, in_a | in_r | {x for p in plist for x in p})
    found: list[str] = []

    def note(what: str, items: Iterable[str]) -> None:
        items = list(items)
        if items:
            found.append(f"{what}: {few(items)}")

    def show(ps: Iterable[Pair]) -> list[str]:
        return [f"{r} reviews {a}" for r, a in ps]

    note("duplicate pairs", show(p for p, c in sorted(Counter(plist).items()) if c > 1))
    note("unknown authors", sorted({a for _, a in plist} - in_a))
    note("reviewers outside the pool", sorted({r for r, _ in plist} - in_r))
    note("self-reviews", show(p for p in plist if p[0] == p[1]))
    got: dict[str, set[str]] = defaultdict(set)
    for r, a in plist:
        got[a].add(r)
    note(
        f"authors without exactly {k} distinct reviewers",
        (f"{a} ({len(got[a])})" for a in sorted(in_a) if len(got[a]) != k),
    )
    load = Counter({r: 0 for r in in_r})
    load.update(r for r, _ in plist if r in in_r)
    if load and max(load.values()) - min(load.values()) > 1:
        lo, hi = min(load, key=lambda r: (load[r], r)), max(load, key=lambda r: (load[r], r))
        found.append(f"reviewer loads differ by more than one: {lo} {load[lo]}, {hi} {load[hi]}")
    same = [p for p in plist if team.get(p[0]) is not None and team.get(p[0]) == team.get(p[1])]
    T = max(Counter(team[a] for a in in_a if team[a] is not None).values(), default=1)
    n = len(in_a)
    if rule == "require" or (rule == "prefer" and in_a == in_r and n >= 2 * T + k - 1):
        note("same-team pairs", show(same))
    if in_a == in_r and n >= 2 * T + 2 * k - 1:
        pset = set(plist)
        note(
            "reciprocal pairs", show(sorted({(r, a) for r, a in pset if r < a and (a, r) in pset}))
        )
    return found
