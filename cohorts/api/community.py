"""HTTP handlers for prompts, practices, the artifact library, notifications and preview."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.orm import Session
from tornado.web import RequestHandler

from nbcohort.cohorts.api.handlers import ApiHandler
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services import artifacts, notifications, practices, prompts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.notifications import resolve_mentions
from nbcohort.cohorts.services.posts import clean_body
from nbcohort.cohorts.services.threads import full_post

__all__ = ["ROUTES"]


class PromptHandler(ApiHandler):
    def get(self, key: str) -> Awaitable[None]:
        before = self.int_arg("before")
        rules = self.ctx.rules

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            wanted = None if key == "current" else key
            return prompts.get_prompt(s, actor, cohort, wanted, rules, before)

        return self.run(fn, write=False)


class PromptAnswerHandler(ApiHandler):
    def post(self, key: str) -> Awaitable[None]:
        data = self.body_json()
        rules = self.ctx.rules

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            post = prompts.answer_prompt(s, actor, cohort, key, data.get("body"), rules)
            return full_post(s, actor, post)

        return self.run(fn, write=True, status=201)


class PracticeHandler(ApiHandler):
    def get(self, practice: str) -> Awaitable[None]:
        return self.run(lambda s, a, c: practices.applied_status(s, a, c, practice), write=False)

    def put(self, practice: str) -> Awaitable[None]:
        data = self.body_json()
        return self.run(
            lambda s, a, c: practices.mark_applied(s, a, c, practice, data.get("note", "")),
            write=True,
        )


class ArtifactsHandler(ApiHandler):
    def get(self) -> Awaitable[None]:
        tag = self.get_query_argument("tag", None)
        return self.run(lambda s, a, c: {"artifacts": artifacts.list_artifacts(s, a, c, tag=tag)},
                 write=False)  # fmt: skip

    def post(self) -> Awaitable[None]:
        data = self.body_json()
        try:
            content = base64.b64decode(str(data.get("content_b64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("content_b64 is not valid base64", field="content_b64") from None
        rules = self.ctx.rules

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            artifact = artifacts.share_artifact(
                s, actor, cohort, filename=data.get("filename"), content=content,
                title=data.get("title"), description=data.get("description", ""),
                tags=data.get("tags"), license=data.get("license", "CC-BY-4.0"), rules=rules,
            )  # fmt: skip
            return artifacts.artifact_dict(artifact)

        return self.run(fn, write=True, status=201)


class ArtifactHandler(ApiHandler):
    def get(self, artifact_id: str) -> Awaitable[None]:
        return self.run(lambda s, a, c: artifacts.artifact_dict(
            artifacts.get_artifact(s, a, int(artifact_id))), write=False)  # fmt: skip


class ArtifactCopyHandler(ApiHandler):
    def post(self, artifact_id: str) -> Awaitable[None]:
        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            artifact = artifacts.copy_artifact(s, actor, int(artifact_id))
            return {"filename": artifact.filename, "sha256": artifact.sha256,
                    "content_b64": base64.b64encode(artifact.content).decode("ascii")}  # fmt: skip

        return self.run(fn, write=True)


class NotificationsHandler(ApiHandler):
    def get(self) -> Awaitable[None]:
        unread = self.get_query_argument("all", "") not in ("1", "true")
        return self.run(lambda s, a, c: {"notifications": notifications.list_notifications(
            s, a, unread_only=unread)}, write=False)  # fmt: skip


class NotificationsReadHandler(ApiHandler):
    def post(self) -> Awaitable[None]:
        return self.run(lambda s, a, c: {"marked": notifications.mark_all_read(s, a)}, write=True)


class PreviewHandler(ApiHandler):
    """Renders a draft exactly as a post would be rendered (the one sanitizer), saves nothing."""

    def post(self) -> Awaitable[None]:
        data = self.body_json()
        rules = self.ctx.rules

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            text = clean_body(data.get("body"), rules)
            return {"html": render_markdown(text, resolve_mentions(s, cohort.id, text))}

        return self.run(fn, write=False)


_ID = r"([0-9]{1,18})"
ROUTES: list[tuple[str, type[RequestHandler]]] = [
    (r"/api/v1/prompts/([a-z0-9-]{1,64})", PromptHandler),
    (r"/api/v1/prompts/([a-z0-9-]{1,64})/answer", PromptAnswerHandler),
    (r"/api/v1/practices/([^/]{1,100})", PracticeHandler),
    (r"/api/v1/artifacts", ArtifactsHandler),
    (rf"/api/v1/artifacts/{_ID}", ArtifactHandler),
    (rf"/api/v1/artifacts/{_ID}/copies", ArtifactCopyHandler),
    (r"/api/v1/notifications", NotificationsHandler),
    (r"/api/v1/notifications/read", NotificationsReadHandler),
    (r"/api/v1/preview", PreviewHandler),
]
