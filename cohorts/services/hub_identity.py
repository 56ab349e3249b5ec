"""Who a JupyterHub user is in the community (``c.ServiceSettings.auth = "hub"``).

The hub says who is calling (a username, and the user's hub groups); the roster says who
that is here. A hub user is the active member with the same username. The roster decides the
role, and a role that ``HubSettings.role_groups`` names is held only with one of its hub
groups as well. Why the roster wins: a role is per cohort, while a hub group is hub-wide and
cannot say which cohort it means; and asking for both keys means that neither a roster entry
alone (an instructor's typo in a cohort file) nor a hub group alone (an identity provider's
group) makes anyone staff. A hub user in a group whose role the roster does not give them
acts with their roster role: the group confirms, it never grants.

A hub user on the rosters of several cohorts (a facilitator who runs two, an alumna who
took a second course) names the cohort a request is for with the ``X-Nbcohort-Cohort``
header (the client sends ``ClientSettings.cohort``); a request that names none is refused
with 409 naming every cohort they are on, never answered for a cohort picked for them.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config_hub import COHORT_HEADER
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import Actor, NotOnRoster
from nbcohort.cohorts.services.errors import Conflict, Forbidden

__all__ = [
    "COHORT_HEADER",
    "NotOnRoster",
    "RoleNotConfirmed",
    "SeveralCohorts",
    "hub_actor",
    "roster_member",
]

_MAX_SLUG_SHOWN = 64


class RoleNotConfirmed(Forbidden):
    """The roster gives a role that needs a hub group the hub user is not in."""

    code = "role_not_confirmed"


class SeveralCohorts(Conflict):
    """A hub user active on several rosters whose request does not say which cohort."""

    code = "several_cohorts"


def roster_member(session: Session, username: str, cohort: str | None = None) -> Member:
    """The active member whose roster username is the hub user's name, in the cohort whose
    slug is ``cohort`` when the request names one (``COHORT_HEADER``)."""
    rows = session.execute(
        select(Member, Cohort.slug)
        .join(Cohort, Member.cohort_id == Cohort.id)
        .where(Member.username == username)
        .order_by(Member.id)
    ).all()
    active = [(m, slug) for m, slug in rows if m.active]
    if not rows:
        raise NotOnRoster(f"hub user {username!r} is not on the roster of any cohort here")
    if not active:
        raise NotOnRoster(f"hub user {username!r} is no longer an active member of the cohort")
    if cohort:
        active = [(m, slug) for m, slug in active if slug == cohort]
        if not active:
            shown = cohort[:_MAX_SLUG_SHOWN]
            raise NotOnRoster(
                f"hub user {username!r} is not an active member of cohort {shown!r} "
                f"(named by the {COHORT_HEADER} header)"
            )
    if len(active) > 1:
        slugs = ", ".join(slug for _m, slug in active)
        raise SeveralCohorts(
            f"hub user {username!r} is on the rosters of several cohorts ({slugs}); name the "
            f"one this request is for with the {COHORT_HEADER} header "
            "(c.ClientSettings.cohort or NBCOHORT_COHORT in a kernel)"
        )
    member = active[0][0]
    session.expunge(member)
    return member


def hub_actor(member: Member, groups: Collection[str], confirming: Collection[str]) -> Actor:
    """The actor for ``member``, whose role needs one of the ``confirming`` hub groups (none:
    the role needs no group) and who is in ``groups``."""
    if confirming and not set(groups) & set(confirming):
        needed = " or ".join(sorted(confirming))
        raise RoleNotConfirmed(
            f"the roster makes {member.username!r} {_article(member.role)} {member.role}, "
            "which also needs hub group "
            f"{needed} (c.HubSettings.role_groups); ask the hub's administrator"
        )
    return Actor.of(member)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
