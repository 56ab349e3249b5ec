"""Reviewer allocation: exact counts, balanced loads, no self or reciprocal review, team rules,
determinism and clear refusals. Late submitters and missed reviews: ``test_reallocation``."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from nbcohort.exchange.allocation import FLOW_MAX_EDGES, AllocationError, allocate, check
from tests.exchange.strategies import (
    PROPS,
    RULES,
    assert_exact,
    attempt,
    cohorts,
    ids,
    largest_team,
    reciprocal,
    same_team,
)


# -- allocate: invariants ---------------------------------------------------------------------
@PROPS
@given(n=st.integers(2, 80), k=st.integers(1, 8), seed=st.integers(0, 2**32))
def test_no_teams_exact_and_reciprocal_free_when_n_at_least_2k_plus_1(n, k, seed):
    assume(k < n)
    authors = ids(n)
    pairs = allocate(authors, k, seed=seed)
    assert_exact(pairs, authors, k)
    # kn arcs share n(n-1)/2 unordered pairs: below 2k+1 this many reciprocal pairs is forced
    assert reciprocal(pairs) == max(0, k * n - n * (n - 1) // 2)
    assert check(pairs, k, authors=authors) == []


@PROPS
@given(cohort=cohorts(), rule=RULES)
def test_team_rules(cohort, rule):
    authors, k, teams, seed = cohort
    pairs, refusal = attempt(allocate, authors, k, seed=seed, teams=teams, team_rule=rule)
    if refusal is not None:
        assert rule == "require"
        assert "team" in refusal
        return
    assert_exact(pairs, authors, k)
    if rule == "require":
        assert same_team(pairs, teams) == 0
    _, T = largest_team(teams)
    if rule != "ignore" and len(authors) >= 2 * T + 2 * k - 1:  # proven: the team circle
        assert same_team(pairs, teams) == 0
        assert reciprocal(pairs) == 0
    assert check(pairs, k, authors=authors, teams=teams, team_rule=rule) == []


@PROPS
@given(cohort=cohorts())
def test_prefer_has_no_team_mate_exactly_when_require_is_feasible(cohort):
    authors, k, teams, seed = cohort
    preferred = allocate(authors, k, seed=seed, teams=teams, team_rule="prefer")
    try:
        allocate(authors, k, seed=seed, teams=teams, team_rule="require")
    except AllocationError:
        assert same_team(preferred, teams) > 0
    else:
        assert same_team(preferred, teams) == 0


@PROPS
@given(n=st.integers(4, 40), data=st.data())
def test_a_team_over_half_is_refused_by_require_and_minimal_under_prefer(n, data):
    big = data.draw(st.integers(n // 2 + 1, n - 1))
    k = data.draw(st.integers(1, min(2 * big - n + 1, n - 1)))
    authors = ids(n)
    teams = {a: ("Finance" if i < big else f"small{i % 3}") for i, a in enumerate(authors)}
    with pytest.raises(AllocationError, match="team 'Finance'"):
        allocate(authors, k, seed=1, teams=teams, team_rule="require")
    pairs = allocate(authors, k, seed=data.draw(st.integers(0, 99)), teams=teams)
    assert_exact(pairs, authors, k)
    # every Finance review of Finance beyond what the others can absorb: k(2T - n), no more
    assert same_team(pairs, teams) == k * (2 * big - n)


@PROPS
@given(s=st.integers(2, 20), k=st.integers(1, 4), seed=st.integers(0, 2**32))
def test_two_equal_teams_flow_and_repair_leave_no_reciprocal_pair(s, k, seed):
    # 2s < 2T+2k-1: the flow path. A reciprocal-free solution exists when s >= 2k (X_i reviews
    # Y_{i..i+k-1}, Y_i reviews X_{i+k..i+2k-1}); the repair pass must find one.
    assume(s >= 2 * k)
    authors = ids(s, "x") + ids(s, "y")
    teams = {a: a[0] for a in authors}
    for rule in ("require", "prefer"):
        pairs = allocate(authors, k, seed=seed, teams=teams, team_rule=rule)
        assert_exact(pairs, authors, k)
        assert same_team(pairs, teams) == 0
        assert reciprocal(pairs) == 0


@PROPS
@given(cohort=cohorts(), extra=st.integers(0, 4), drop=st.integers(0, 4), rule=RULES)
def test_separate_reviewer_pool(cohort, extra, drop, rule):
    authors, k, teams, seed = cohort
    reviewers = authors[drop:] + ids(extra, "facilitator")
    pairs, refusal = attempt(
        allocate, authors, k, seed=seed, teams=teams, team_rule=rule, reviewers=reviewers
    )
    if refusal is not None:
        assert rule == "require" or "reviewer" in refusal
        return
    assert_exact(pairs, authors, k, reviewers)
    if rule == "require":
        assert same_team(pairs, teams) == 0
    report = check(pairs, k, authors=authors, reviewers=reviewers, teams=teams, team_rule=rule)
    assert report == []


@PROPS
@given(cohort=cohorts(max_n=40), rule=RULES, shuffle_seed=st.integers(0, 999))
def test_deterministic_and_independent_of_input_order(cohort, rule, shuffle_seed):
    authors, k, teams, seed = cohort
    try:
        first = allocate(authors, k, seed=seed, teams=teams, team_rule=rule)
    except AllocationError:
        return
    shuffled = list(authors)
    random.Random(shuffle_seed).shuffle(shuffled)
    reordered = dict(reversed(list(teams.items())))
    assert allocate(shuffled, k, seed=seed, teams=reordered, team_rule=rule) == first
    assert allocate(tuple(authors), k, seed=seed, teams=teams, team_rule=rule) == first


@pytest.mark.parametrize(
    ("n", "k", "teams"),
    [
        (12, 2, None),  # the plain circle
        (40, 3, {f"m{i:03d}": f"t{i // 4}" for i in range(40)}),  # the team circle
        (16, 3, {f"m{i:03d}": "big" if i < 8 else "" for i in range(16)}),  # the flow
    ],
)
def test_different_seeds_give_different_allocations(n, k, teams):
    runs = {tuple(allocate(ids(n), k, seed=s, teams=teams)) for s in range(8)}
    assert len(runs) >= 6


# -- allocate: refusals, before anything ------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"authors": ids(3), "k": 3},
            "3 reviewers per submission need at least 4 authors; there are 3",
        ),
        ({"authors": ids(5), "k": 0}, "at least 1 reviewer; got k=0"),
        ({"authors": ids(5), "k": -2}, "got k=-2"),
        ({"authors": [*ids(5), "m001", "m003"], "k": 2}, "duplicate authors: m001, m003"),
        ({"authors": [*ids(4), ""], "k": 2}, "non-empty strings"),
        (
            {"authors": [], "k": 1},
            "1 reviewer per submission needs at least 2 authors; there are 0",
        ),
        (
            {"authors": ids(5), "k": 2, "reviewers": ["m000", "m001"]},
            "reviewer pool too small: 2 reviewer(s) cannot give m000, m001",
        ),
        (
            {"authors": ids(5), "k": 2, "reviewers": ["f1", "f2", "f1"]},
            "duplicate reviewers: f1",
        ),
        ({"authors": ids(5), "k": 2, "team_rule": "avoid"}, "team_rule must be one of"),
    ],
)
def test_impossible_requests_are_refused_with_the_reason(kwargs, message):
    kwargs.setdefault("seed", 0)
    with pytest.raises(AllocationError) as info:
        allocate(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_require_names_a_team_holding_more_than_n_minus_k_members():
    authors = ids(10)
    teams = {a: ("Operations" if i < 8 else "Research") for i, a in enumerate(authors)}
    with pytest.raises(AllocationError) as info:
        allocate(authors, 3, seed=0, teams=teams, team_rule="require")
    text = str(info.value)
    assert "team 'Operations' (8 of 10 authors" in text
    assert "need 3 reviewers from outside it, there are 2" in text
    assert "Research" not in text
    # the same cohort under "prefer" still gets exactly 3 reviewers each
    assert_exact(allocate(authors, 3, seed=0, teams=teams), authors, 3)


def test_require_infeasible_beyond_single_teams_names_the_authors_left_short():
    # every team passes its own border check, but the two pairs need the loner 4 times (k=3)
    authors = ids(5)
    teams = {"m000": "a", "m001": "a", "m002": "b", "m003": "b"}
    with pytest.raises(AllocationError, match="cannot be covered") as info:
        allocate(authors, 3, seed=0, teams=teams, team_rule="require")
    assert "team(s)" in str(info.value)


# -- larger cases off the fast paths ----------------------------------------------------------
def test_large_cohort_with_a_team_of_half_uses_construction_and_repair():
    authors = ids(1000, "f") + ids(1000, "o")
    teams = {a: a[0] for a in authors}
    assert len(authors) ** 2 > FLOW_MAX_EDGES
    pairs = allocate(authors, 3, seed=4, teams=teams, team_rule="require")
    assert_exact(pairs, authors, 3)
    assert same_team(pairs, teams) == 0
    assert check(pairs, 3, authors=authors, teams=teams, team_rule="require") == []


def test_large_cohort_with_facilitators_in_the_pool():
    authors = ids(1500)
    teams = {a: f"t{i // 8}" for i, a in enumerate(authors)}
    reviewers = [*authors, "fac1", "fac2", "fac3"]
    pairs = allocate(authors, 3, seed=9, teams=teams, team_rule="require", reviewers=reviewers)
    assert_exact(pairs, authors, 3, reviewers)
    assert same_team(pairs, teams) == 0
    assert reciprocal(pairs) == 0


def test_greedy_random_allocation_can_end_short_where_ours_does_not():
    """A Moodle-style greedy (each author in turn picks random reviewers with room left)."""

    def greedy(authors, k, seed):
        rng = random.Random(seed)
        load, pairs = Counter(), []
        for a in rng.sample(authors, len(authors)):
            free = [r for r in authors if r != a and load[r] < k]
            for r in rng.sample(free, min(k, len(free))):
                load[r] += 1
                pairs.append((r, a))
        return pairs

    authors = ids(6)
    short = [s for s in range(200) if len(greedy(authors, 3, s)) < 3 * len(authors)]
    assert short
    for s in short[:20]:
        assert_exact(allocate(authors, 3, seed=s), authors, 3)


# -- check ------------------------------------------------------------------------------------
def test_check_names_each_broken_invariant():
    authors = ids(9)
    teams = {a: ("t1" if i < 3 else "") for i, a in enumerate(authors)}
    good = allocate(authors, 2, seed=3, teams=teams, team_rule="require")
    assert check(good, 2, authors=authors, teams=teams, team_rule="require") == []
    x, y = next(
        (x, y)
        for x in authors[3:]
        for y in authors[3:]
        if x < y and (x, y) not in good and (y, x) not in good
    )
    broken = [*good, good[0], ("m005", "m005"), ("stranger", "m004"), (x, y), (y, x)]
    broken += [("m000", "m002")]
    report = "\n".join(check(broken, 2, authors=authors, teams=teams, team_rule="require"))
    assert f"duplicate pairs: {good[0][0]} reviews {good[0][1]}" in report
    assert "self-reviews: m005 reviews m005" in report
    assert "reviewers outside the pool: stranger" in report
    assert "authors without exactly 2 distinct reviewers: " in report
    assert "m004 (3)" in report
    assert "reviewer loads differ by more than one" in report
    assert "same-team pairs: m000 reviews m002" in report
    assert f"reciprocal pairs: {x} reviews {y}" in report
    assert "unknown authors" not in report
    assert check([*good, ("m001", "ghost")], 2, authors=authors)[0] == "unknown authors: ghost"


def test_check_counts_reciprocal_pairs_only_where_they_are_avoidable():
    authors = ids(4)  # n < 2k+1 for k=2: reciprocal pairs are forced
    pairs = allocate(authors, 2, seed=0)
    assert reciprocal(pairs) == 2
    assert check(pairs, 2, authors=authors) == []
