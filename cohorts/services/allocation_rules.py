"""The rules every allocation keeps, shared by the exchange's ``allocation`` (a new round's
pairs) and ``reallocation`` (changes to a published one) and by ``backup_pool`` (who takes
over a review): the team rules, the checks of their inputs with errors in words, and which
(reviewer, author) pairs are forbidden or discouraged. Pure; here in the services layer so
that a member's leave, which the services run, keeps them too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

__all__ = [
    "TEAM_RULES",
    "AllocationError",
    "Pair",
    "Teams",
    "check_ids",
    "check_k",
    "check_rule",
    "discouraged",
    "few",
    "forbidden",
    "team_map",
]

Pair = tuple[str, str]  # (reviewer, author)
Teams = dict[str, str | None]  # member -> team (None: no team, or teams ignored)
TEAM_RULES = ("prefer", "require", "ignore")


class AllocationError(ValueError):
    """An allocation that cannot be made; the message (shown to instructors) says why."""


def check_rule(team_rule: str) -> str:
    if team_rule not in TEAM_RULES:
        raise AllocationError(f"team_rule must be one of {', '.join(TEAM_RULES)}: {team_rule!r}")
    return team_rule


def check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise AllocationError(f"each submission needs at least 1 reviewer; got k={k!r}")


def check_ids(what: str, items: Iterable[str]) -> list[str]:
    """The usernames, sorted; refused when empty, not strings or repeated."""
    out = list(items)
    bad = [x for x in out if not isinstance(x, str) or not x]
    if bad:
        raise AllocationError(f"{what} must be non-empty strings; got {few(map(repr, bad))}")
    dup = sorted(x for x, c in Counter(out).items() if c > 1)
    if dup:
        raise AllocationError(f"duplicate {what}: {few(dup)}")
    return sorted(out)


def few(items: Iterable[str], limit: int = 5) -> str:
    """The first ``limit`` items for a message, and how many more."""
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def team_map(teams: Mapping[str, str] | None, rule: str, members: Iterable[str]) -> Teams:
    if teams is None or rule == "ignore":
        return {m: None for m in members}
    return {m: (teams.get(m) or None) for m in members}


def forbidden(r: str, a: str, team: Teams, rule: str) -> bool:
    """A pair no allocation may hold: a self-review, or team-mates under "require"."""
    return r == a or (rule == "require" and team[r] is not None and team[r] == team[a])


def discouraged(r: str, a: str, team: Teams, rule: str) -> bool:
    """A pair held only when nothing else fits: team-mates under "prefer"."""
    return rule == "prefer" and team[r] is not None and team[r] == team[a]
