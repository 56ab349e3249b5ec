"""The ``[badges]`` section of the cohort file: badge rules over the activity log and the
weekly spotlight's rule. Kept apart from cohort_file.py (which includes it) to keep each
module about one thing."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BADGE_EVENTS",
    "DEFAULT_RULES",
    "BadgeEvent",
    "BadgeRule",
    "Badges",
    "SpotlightRule",
    "badge_problems",
    "effective_rules",
]

_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
Slug = Annotated[str, Field(pattern=_SLUG)]
Title = Annotated[str, Field(min_length=1, max_length=200)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# What a badge rule counts, over the activity log (services/badge_rules.py reads each):
# post: posts written; helpful_reply: one's replies that another member marked "helpful";
# review_submitted; review_rated_helpful: one's reviews rated 4 or 5 by their author;
# artifact_shared; artifact_reused: one's artifacts copied by someone else; practice_applied:
# "I applied this"; week_streak: consecutive weeks with a contribution (count = weeks);
# champion: appointed (or on the roster as) champion; pilot_owned: pilots one owns (awarded
# once the pilots of issue #16 part 3 log ``pilot.create`` with an owner).
BadgeEvent = Literal[
    "post",
    "helpful_reply",
    "review_submitted",
    "review_rated_helpful",
    "artifact_shared",
    "artifact_reused",
    "practice_applied",
    "week_streak",
    "champion",
    "pilot_owned",
]
BADGE_EVENTS: tuple[str, ...] = get_args(BadgeEvent)


class BadgeRule(_Section):
    key: Slug
    title: Title
    event: BadgeEvent
    count: Annotated[int, Field(ge=1, le=10_000)] = 1
    description: Annotated[str, Field(max_length=300)] = ""


class SpotlightRule(_Section):
    """The weekly spotlight of repeat contributors (services/spotlight.py has the rule)."""

    enabled: bool = True
    size: Annotated[int, Field(ge=1, le=10)] = 3
    min_days: Annotated[int, Field(ge=1, le=7)] = 2  # distinct days with a contribution
    min_contributions: Annotated[int, Field(ge=1, le=100)] = 3


class Badges(_Section):
    """Badge rules: the kit's (``badge_rules.DEFAULT_RULES``) plus or replaced by ``rules``
    (same key: replaced), minus the keys in ``off``."""

    enabled: bool = True
    rules: list[BadgeRule] = Field(default_factory=list)
    off: list[Slug] = Field(default_factory=list)
    spotlight: SpotlightRule = Field(default_factory=SpotlightRule)


def _rule(key: str, title: str, event: str, count: int, description: str) -> BadgeRule:
    return BadgeRule.model_construct(
        key=key, title=title, event=event, count=count, description=description
    )


# The kit's badges; a cohort file adds to them, replaces one by its key, or turns one off.
DEFAULT_RULES: tuple[BadgeRule, ...] = (
    _rule("first-post", "First post", "post", 1, "wrote a first post"),
    _rule("helpful-reply", "Helpful reply", "helpful_reply", 1, "a reply marked helpful"),
    _rule("first-review", "First review", "review_submitted", 1, "submitted a first review"),
    _rule("first-artifact", "First artifact", "artifact_shared", 1, "shared a first artifact"),
    _rule("first-reuse", "Reused", "artifact_reused", 1, "an artifact reused by someone else"),
    _rule("applied", "Applied it", "practice_applied", 1, 'said "I applied this" first'),
    _rule(
        "helpful-reviewer",
        "Helpful reviewer",
        "review_rated_helpful",
        3,
        "three reviews rated 4 or 5 by their authors",
    ),
    _rule("streak-4", "Four-week streak", "week_streak", 4, "contributed four weeks running"),
    _rule("champion", "Champion", "champion", 1, "a champion of the cohort"),
    _rule("pilot-owner", "Pilot owner", "pilot_owned", 1, "owns a pilot"),
)


def effective_rules(badges: Badges) -> list[BadgeRule]:
    """The kit's rules with the cohort file's added or replacing them, minus those off."""
    if not badges.enabled:
        return []
    rules = {r.key: r for r in DEFAULT_RULES}
    rules.update({r.key: r for r in badges.rules})
    return [r for key, r in rules.items() if key not in set(badges.off)]


def badge_problems(raw: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """What the schema alone does not show: two rules with one key, ``off`` naming no rule."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(raw, dict):
        return out
    rules = raw.get("rules") if isinstance(raw.get("rules"), list) else []
    assert isinstance(rules, list)
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        key = rule.get("key") if isinstance(rule, dict) else None
        if isinstance(key, str):
            if key in seen:
                out.append(
                    (("badges", "rules", i, "key"), f"{key!r} is also rule #{seen[key] + 1}")
                )
            seen.setdefault(key, i)
    known = {r.key for r in DEFAULT_RULES} | set(seen)
    off = raw.get("off") if isinstance(raw.get("off"), list) else []
    assert isinstance(off, list)
    for i, key in enumerate(off):
        if isinstance(key, str) and key not in known:
            out.append(
                (("badges", "off", i), f"no badge rule {key!r} (rules: {', '.join(sorted(known))})")
            )
    return out
