"""The ``[charter]`` section of the cohort file: the published code of conduct and the
moderation rules for new members (``[charter.moderation]``: first posts held for approval,
posts per hour). Kept apart from cohort_file.py (which includes it) to keep each module about
one thing; ``services/moderation_gate.py`` applies the rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_CONDUCT_CHARS", "CharterSection", "ModerationRules"]

MAX_CONDUCT_CHARS = 20_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


SubjectRole = Literal["learner", "alumni"]


def _learners() -> list[SubjectRole]:
    return ["learner"]


class ModerationRules(_Section):
    """Who is new, and what a new member's posts go through.

    A member is new for their first ``new_days`` days in the cohort and, when ``new_posts``
    is set, only until they have that many posts: whichever ends first. Members whose role is
    in ``roles`` are subject to it; champions and staff never are.
    """

    new_days: Annotated[int, Field(ge=1, le=365)] = 14
    new_posts: Annotated[int, Field(ge=1, le=1000)] | None = None
    # A new member's first this-many posts wait for a champion's or facilitator's approval
    # (0: none are held).
    hold_first_posts: Annotated[int, Field(ge=0, le=20)] = 0
    # At most this many posts (held ones included) in any hour while new; absent: no limit.
    posts_per_hour: Annotated[int, Field(ge=1, le=120)] | None = None
    roles: list[SubjectRole] = Field(default_factory=_learners)


class CharterSection(_Section):
    """The charter's parts the cohort file holds: what members agree to behave by."""

    code_of_conduct: Annotated[str, Field(max_length=MAX_CONDUCT_CHARS)] = ""
    moderation: ModerationRules = Field(default_factory=ModerationRules)
