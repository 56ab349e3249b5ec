"""Reallocation after the round opened: late submitters (``add_late``) and missed reviews
(``reassign``) keep the allocation invariants and touch no locked or unaffected pair."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbcohort.exchange.allocation import AllocationError, allocate
from nbcohort.exchange.reallocation import add_late, reassign
from tests.exchange.strategies import (
    PROPS,
    RULES,
    assert_exact,
    attempt,
    cohorts,
    ids,
    reciprocal,
    same_team,
)


# -- add_late ---------------------------------------------------------------------------------
@PROPS
@given(cohort=cohorts(max_n=30), rule=RULES, data=st.data())
def test_add_late_keeps_every_invariant(cohort, rule, data):
    authors, k, teams, seed = cohort
    try:
        pairs = allocate(authors, k, seed=seed, teams=teams, team_rule=rule)
    except AllocationError:
        return
    late = "late"
    teams = {**teams, late: data.draw(st.sampled_from(["", "team0", "team1"]))}
    locked = set(data.draw(st.lists(st.sampled_from(pairs), max_size=len(pairs) // 2)))
    after, refusal = attempt(
        add_late, pairs, late, k, seed=seed, locked=locked, teams=teams, team_rule=rule
    )
    if refusal is not None:
        assert "cannot add late" in refusal
        return
    everyone = [*authors, late]
    assert_exact(after, everyone, k)
    assert locked <= set(after)
    load_before, load_after = Counter(r for r, _ in pairs), Counter(r for r, _ in after)
    assert load_after[late] == k
    assert all(load_after[r] == load_before[r] for r in authors)
    assert reciprocal(after) <= reciprocal(pairs)
    assert not any((late, r) in set(after) for r, a in after if a == late)
    if rule == "require":
        assert same_team(after, teams) == 0
    if rule == "prefer":  # no team-mate for the late author whenever "require" manages it
        try:
            add_late(pairs, late, k, seed=seed, locked=locked, teams=teams, team_rule="require")
        except AllocationError:
            pass
        else:
            assert not any(late in p and same_team([p], teams) for p in after)


def test_add_late_refusals():
    authors = ids(7)
    pairs = allocate(authors, 2, seed=1)
    with pytest.raises(AllocationError, match="m003 is already in this allocation"):
        add_late(pairs, "m003", 2, seed=1)
    with pytest.raises(AllocationError, match="cannot add late: no 2 unlocked pairs"):
        add_late(pairs, "late", 2, seed=1, locked=pairs)
    with pytest.raises(AllocationError, match="at least 1 reviewer"):
        add_late(pairs, "late", 0, seed=1)
    teams = {a: "t" for a in authors[:6]} | {"late": "t"}
    with pytest.raises(AllocationError, match="outside team 't'"):
        add_late(pairs, "late", 2, seed=1, teams=teams, team_rule="require")


# -- reassign ---------------------------------------------------------------------------------
@PROPS
@given(cohort=cohorts(max_n=30), rule=RULES, data=st.data())
def test_reassign_covers_every_missing_review(cohort, rule, data):
    authors, k, teams, seed = cohort
    try:
        pairs = allocate(authors, k, seed=seed, teams=teams, team_rule=rule)
    except AllocationError:
        return
    missing = set(data.draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=8)))
    pool = [*data.draw(st.lists(st.sampled_from(authors), max_size=10)), "fac1", "fac2"]
    after, refusal = attempt(reassign, pairs, missing, pool, seed=seed, teams=teams, team_rule=rule)
    if refusal is not None:
        assert "can review" in refusal
        return
    assert len(after) == len(pairs)
    for old, new in zip(pairs, after, strict=True):
        if old in missing:
            assert new[1] == old[1] and new[0] in pool
            assert new[0] not in {r for r, a in missing if a == old[1]}
        else:
            assert new == old
    assert set(Counter(a for _, a in after).values()) == {k}
    assert len(set(after)) == len(after)
    assert all(r != a for r, a in after)
    if rule == "require":
        assert same_team(after, teams) == 0


@PROPS
@given(n=st.integers(8, 40), seed=st.integers(0, 2**32), data=st.data())
def test_reassign_spreads_extra_load_evenly_over_the_pool(n, seed, data):
    authors = ids(n)
    pairs = allocate(authors, 3, seed=seed)
    missing = set(data.draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=30)))
    pool = ids(4, "fac")  # not authors: no reciprocal pair or team can get in the way
    after = reassign(pairs, missing, pool, seed=seed)
    extra = Counter(r for r, _ in after if r in pool)
    counts = [extra[p] for p in pool]
    assert max(counts) - min(counts) <= 1
    assert reciprocal(after) == 0


def test_reassign_prefers_the_least_loaded_and_avoids_reciprocal_pairs():
    pairs = [("a", "b"), ("b", "c"), ("c", "a")]
    after = reassign(pairs, {("a", "b")}, ["c", "d", "e"], seed=0, loads={"d": 5, "e": 1})
    # c reviews b? b reviews c already: reciprocal. d is busier than e.
    assert after == [("e", "b"), ("b", "c"), ("c", "a")]


def test_reassign_names_the_author_that_cannot_be_covered():
    pairs = [("a", "b"), ("b", "c"), ("c", "a")]
    with pytest.raises(AllocationError, match="can review b"):
        reassign(pairs, {("a", "b")}, ["b", "a"], seed=0)
    teams = {"b": "x", "d": "x"}
    with pytest.raises(AllocationError, match=r"review b .*outside team 'x'"):
        reassign(pairs, {("a", "b")}, ["d"], seed=0, teams=teams, team_rule="require")
    with pytest.raises(AllocationError, match="not in this allocation: d reviews a"):
        reassign(pairs, {("d", "a")}, ["e"], seed=0)


def test_reassign_never_makes_a_pair_the_round_held_before():
    """e once had b's submission (withdrawn or moved away): the store keeps one allocation per
    reviewer and submission, so e is passed over, and alone in the pool, refused."""
    pairs = [("a", "b"), ("b", "c"), ("c", "a")]
    after = reassign(pairs, {("a", "b")}, ["d", "e"], seed=0, loads={"d": 5}, barred=[("e", "b")])
    assert after == [("d", "b"), ("b", "c"), ("c", "a")]
    with pytest.raises(AllocationError, match="can review b"):
        reassign(pairs, {("a", "b")}, ["e"], seed=0, barred=[("e", "b")])
