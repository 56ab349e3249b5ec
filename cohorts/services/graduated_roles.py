"""What graduation makes of roles, for members who are there on graduation day and for those
who arrive later (a roster import, a member added), so a graduated cohort never gains a
learner: the formal course is over."""

from __future__ import annotations

from nbcohort.cohorts.models import Cohort

__all__ = ["GRADUATED_ROLES", "arriving_role"]

# Learners become alumni; every other role (champions, facilitators, sponsors) stays.
GRADUATED_ROLES = {"learner": "alumni"}


def arriving_role(cohort: Cohort, role: str) -> str:
    """The role a member given ``role`` takes in ``cohort``: what graduation makes of it once
    the cohort has graduated, ``role`` itself before."""
    if cohort.graduated_at is None:
        return role
    return GRADUATED_ROLES.get(role, role)
