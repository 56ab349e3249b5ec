"""Recognition and champions: badges (shown, one member's, revoking), the weekly spotlight
(read; edited by staff before it goes out), the member's own
recognition preferences, champion suggestions and appointments, and the champions' actions
(pin a post, welcome a first post, host a routine)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import (
    BadgeRevoke,
    BadgesQuery,
    ChampionsQuery,
    PinsQuery,
    RecognitionPrefs,
    RoutineKey,
    SpotlightEdit,
    SpotlightQuery,
)
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import members
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.badge_awards import (
    list_badges,
    member_badges,
    revoke_badge,
    set_recognition_prefs,
)
from nbcohort.cohorts.services.champion_actions import (
    host_routine,
    pin_post,
    pinned_posts,
    unpin_post,
    welcome_post,
)
from nbcohort.cohorts.services.champions import appoint_champion, suggest_champions
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.spotlight import edit_spotlight, spotlight_dict

__all__ = ["ROUTES"]


class BadgesHandler(ApiHandler):
    async def get(self) -> None:
        q = self.query(BadgesQuery)
        ids = [int(i) for i in q.members.split(",")] if q.members else None
        await self.run(
            lambda s, a, c: {"badges": {str(k): v for k, v in list_badges(s, a, c, ids).items()}}
        )


class MemberBadgesHandler(ApiHandler):
    async def get(self, raw_id: str) -> None:
        member_id = path_id(raw_id, "member", "member_id")
        await self.run(lambda s, a, c: member_badges(s, a, c, member_id))


class BadgeRevokeHandler(ApiHandler):
    async def post(self) -> None:
        data = self.body(BadgeRevoke)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            award = revoke_badge(s, a, c, data.member_id, data.badge, data.reason)
            return {"member_id": award.member_id, "badge": award.badge, "revoked": True}

        await self.run(work, write=True)


class RecognitionPrefsHandler(ApiHandler):
    async def put(self) -> None:
        data = self.body(RecognitionPrefs)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            member = s.get_one(Member, a.member_id)
            set_recognition_prefs(
                s,
                a,
                member,
                badges_hidden=data.badges_hidden,
                champion_opt_out=data.champion_opt_out,
            )
            return {"member": members.member_dict(member, private=True)}

        await self.run(work, write=True)


class ChampionSuggestHandler(ApiHandler):
    async def get(self) -> None:
        count = self.query(ChampionsQuery).count
        await self.run(
            lambda s, a, c: {
                "suggestions": [p.as_dict() for p in suggest_champions(s, a, c, count)]
            }
        )


class ChampionAppointHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        member_id = path_id(raw_id, "member", "member_id")

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            member = s.get(Member, member_id)
            if member is None or member.cohort_id != c.id:
                raise NotFound(f"no member {member_id}", field="member_id")
            return {"member": members.member_dict(appoint_champion(s, a, c, member))}

        await self.run(work, write=True)


class PinHandler(ApiHandler):
    async def put(self, raw_id: str) -> None:
        post_id = path_id(raw_id, "post", "post_id")
        await self.run(lambda s, a, c: {"pinned": pin_post(s, a, post_id)}, write=True)

    async def delete(self, raw_id: str) -> None:
        post_id = path_id(raw_id, "post", "post_id")
        await self.run(lambda s, a, c: {"unpinned": unpin_post(s, a, post_id)}, write=True)


class PinsHandler(ApiHandler):
    async def get(self) -> None:
        anchor = self.query(PinsQuery).anchor
        await self.run(lambda s, a, c: {"pinned": pinned_posts(s, a, c, anchor)})


class WelcomeHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        post_id = path_id(raw_id, "post", "post_id")
        await self.run(lambda s, a, c: {"welcomed": welcome_post(s, a, post_id)}, write=True)


class RoutineHostHandler(ApiHandler):
    async def post(self) -> None:
        key = self.body(RoutineKey).key
        await self.run(lambda s, a, c: host_routine(s, a, c, key), write=True)


class SpotlightHandler(ApiHandler):
    async def get(self) -> None:
        week = self.query(SpotlightQuery).week
        await self.run(lambda s, a, c: spotlight_dict(s, a, c, week))

    async def put(self) -> None:
        data = self.body(SpotlightEdit)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            edit_spotlight(s, a, c, data.week, list(data.member_ids), data.note)
            return spotlight_dict(s, a, c, data.week)

        await self.run(work, write=True)


ROUTES = [
    (rf"{PREFIX}/badges", BadgesHandler),
    (rf"{PREFIX}/badges/revoke", BadgeRevokeHandler),
    (rf"{PREFIX}/members/{ID}/badges", MemberBadgesHandler),
    (rf"{PREFIX}/me/recognition", RecognitionPrefsHandler),
    (rf"{PREFIX}/champions/suggestions", ChampionSuggestHandler),
    (rf"{PREFIX}/members/{ID}/champion", ChampionAppointHandler),
    (rf"{PREFIX}/posts/{ID}/pin", PinHandler),
    (rf"{PREFIX}/pins", PinsHandler),
    (rf"{PREFIX}/posts/{ID}/welcome", WelcomeHandler),
    (rf"{PREFIX}/routines/host", RoutineHostHandler),
    (rf"{PREFIX}/spotlight", SpotlightHandler),
]
