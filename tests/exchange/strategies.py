"""Shared by the allocation tests: hypothesis settings and strategies for cohorts with teams,
and the checks of the allocation invariants."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from nbcohort.exchange.allocation import AllocationError

__all__ = [
    "PROPS",
    "RULES",
    "assert_exact",
    "attempt",
    "cohorts",
    "ids",
    "largest_team",
    "reciprocal",
    "same_team",
]

PROPS = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
RULES = st.sampled_from(["prefer", "require", "ignore"])


def ids(n: int, prefix: str = "m") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


@st.composite
def cohorts(draw, max_n: int = 24):
    """(authors, k, teams, seed): random team layouts, some members without a team."""
    n = draw(st.integers(2, max_n))
    k = draw(st.integers(1, min(5, n - 1)))
    authors = ids(n)
    count = draw(st.integers(1, max(1, n // 2)))
    layout = draw(st.lists(st.integers(-1, count - 1), min_size=n, max_size=n))
    teams = {a: (f"team{t}" if t >= 0 else "") for a, t in zip(authors, layout, strict=True)}
    return authors, k, teams, draw(st.integers(0, 2**32))


def attempt(fn, *args, **kwargs):
    """(result, None) or (None, the AllocationError's message)."""
    try:
        return fn(*args, **kwargs), None
    except AllocationError as exc:
        return None, str(exc)


def largest_team(teams: dict[str, str]) -> tuple[str, int]:
    sizes = Counter(t for t in teams.values() if t)
    return max(sizes.items(), key=lambda x: (x[1], x[0]), default=("", 1))


def reciprocal(pairs) -> int:
    s = set(pairs)
    return sum((a, r) in s for r, a in s) // 2


def same_team(pairs, teams) -> int:
    return sum(bool(teams.get(r)) and teams.get(r) == teams.get(a) for r, a in pairs)


def assert_exact(pairs, authors, k, reviewers=None) -> None:
    """Invariants 1-3: k distinct reviewers each, nobody their own, loads within one."""
    reviewers = authors if reviewers is None else reviewers
    assert len(pairs) == len(set(pairs)) == k * len(authors)
    assert all(r != a for r, a in pairs)
    got = Counter(a for _, a in pairs)
    assert set(got) == set(authors)
    assert set(got.values()) == {k}
    assert {r for r, _ in pairs} <= set(reviewers)
    load = Counter({r: 0 for r in reviewers})
    load.update(r for r, _ in pairs)
    assert max(load.values()) - min(load.values()) <= 1
