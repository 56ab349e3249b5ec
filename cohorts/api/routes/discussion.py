"""Discussion routes: threads anchored to course sections and topics, posts, replies,
reactions, flags, moderation and the compose box's preview."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler, Work
from nbcohort.cohorts.api.inputs import (
    AnchorRead,
    Moderation,
    NewPost,
    PostEdit,
    PreviewDraft,
    Reason,
    ThreadQuery,
)
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.models import Cohort, HeldPost, Post
from nbcohort.cohorts.services import posts, reactions, threads
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.community_guests import acting_on_post
from nbcohort.cohorts.services.moderation_hold import held_dict, my_held
from nbcohort.cohorts.services.post_preview import preview_post

__all__ = ["ROUTES"]


def _answering_with_the_post(act: Any) -> Work:
    """A route that acts on a post answers with the post as the actor now sees it."""

    def answer(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
        post = act(s, a, c)  # in another cohort's community topic, seen as a guest sees it
        return threads.full_post(s, acting_on_post(s, a, post.id), post)

    return answer


def _post_id(raw: str) -> int:
    return path_id(raw, "post", "post_id")


class ThreadHandler(ApiHandler):
    async def get(self) -> None:
        q, ctx = self.query(ThreadQuery), self.ctx
        limit = q.limit or ctx.rules.page_size

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            page = threads.read_thread(
                s, a, c, q.anchor, before=q.before, limit=limit, cache=ctx.pages, unread=q.unread
            )
            # The reader's own posts waiting for approval (or not approved), for them alone.
            return {**page, "held": my_held(s, a, c, page.get("anchor", q.anchor))}

        await self.run(work)


class ThreadReadHandler(ApiHandler):
    async def post(self) -> None:
        data = self.body(AnchorRead)
        await self.run(
            lambda s, a, c: {"last_post_id": threads.mark_read(s, a, c, data.anchor)},
            write=True,
            batch=True,
        )


class PostsHandler(ApiHandler):
    async def post(self) -> None:
        data, rules = self.body(NewPost), self.ctx.rules

        def work(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            post = posts.create_post(
                s,
                actor,
                cohort,
                data.anchor,
                data.body,
                parent_id=data.parent_id,
                title=data.title,
                rules=rules,
                request_key=data.request_key,
            )
            if isinstance(post, HeldPost):  # waits for approval; only its author sees it
                return held_dict(post)
            # A new post has no reactions, and its author is the caller: no more queries. A
            # post sent again under its request key gets the answer it got the first time.
            return threads.post_dict(post, actor, author=actor.public())

        await self.run(work, write=True, status=201, batch=True)


class PostHandler(ApiHandler):
    async def get(self, raw_id: str) -> None:
        post_id, rules = _post_id(raw_id), self.ctx.rules
        await self.run(
            _answering_with_the_post(lambda s, a, c: posts.get_post(s, a, post_id, rules))
        )

    async def patch(self, raw_id: str) -> None:
        post_id, data, rules = _post_id(raw_id), self.body(PostEdit), self.ctx.rules
        await self.run(
            _answering_with_the_post(
                lambda s, a, c: posts.edit_post(s, a, post_id, data.body, rules)
            ),
            write=True,
        )

    async def delete(self, raw_id: str) -> None:
        post_id, data = _post_id(raw_id), self.body(Reason)
        await self.run(
            _answering_with_the_post(lambda s, a, c: posts.delete_post(s, a, post_id, data.reason)),
            write=True,
        )


class ReactionHandler(ApiHandler):
    async def put(self, raw_id: str, kind: str) -> None:
        post_id, rules = _post_id(raw_id), self.ctx.rules
        await self.run(
            lambda s, a, c: {"added": reactions.react(s, a, post_id, kind, rules)},
            write=True,
            batch=True,
        )

    async def delete(self, raw_id: str, kind: str) -> None:
        post_id, rules = _post_id(raw_id), self.ctx.rules
        await self.run(
            lambda s, a, c: {"removed": reactions.unreact(s, a, post_id, kind, rules)},
            write=True,
            batch=True,
        )


class FlagHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        post_id, data, rules = _post_id(raw_id), self.body(Reason), self.ctx.rules

        def flag(s: Session, a: Actor, c: Cohort) -> Post:
            return posts.flag_post(s, a, post_id, data.reason, rules)

        await self.run(_answering_with_the_post(flag), write=True, status=201)


class ModerationHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        post_id, data = _post_id(raw_id), self.body(Moderation)
        await self.run(
            _answering_with_the_post(
                lambda s, a, c: posts.moderate_post(s, a, post_id, data.action, data.reason)
            ),
            write=True,
        )


class PreviewHandler(ApiHandler):
    """Renders a draft exactly as a post would be rendered (the one sanitizer), saves nothing."""

    async def post(self) -> None:
        data, rules = self.body(PreviewDraft), self.ctx.rules

        def preview(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            html = preview_post(s, actor, cohort, data.body, anchor=data.anchor, rules=rules)
            return {"html": html}

        await self.run(preview)


ROUTES = [
    (rf"{PREFIX}/thread", ThreadHandler),
    (rf"{PREFIX}/thread/read", ThreadReadHandler),
    (rf"{PREFIX}/posts", PostsHandler),
    (rf"{PREFIX}/posts/{ID}", PostHandler),
    (rf"{PREFIX}/posts/{ID}/reactions/([^/]+)", ReactionHandler),
    (rf"{PREFIX}/posts/{ID}/flags", FlagHandler),
    (rf"{PREFIX}/posts/{ID}/moderation", ModerationHandler),
    (rf"{PREFIX}/preview", PreviewHandler),
]
