"""HTTP handlers of the community service: thin JSON over the services layer."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import orjson
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from nbcohort import cohorts as _pkg
from nbcohort.cohorts.api.group_commit import ALONE
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import members, posts, threads
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohorts import cohort_summary
from nbcohort.cohorts.services.errors import Invalid, ServiceError
from nbcohort.cohorts.store import CommitUnknown, WriterBusy, is_busy

__all__ = ["ROUTES"]

log = logging.getLogger("nbcohort.service")
T = TypeVar("T")
_INLINE_RETRY_SECONDS = 0.05
# Answers are encoded with orjson: a thread page is ~20 kB of JSON, and the standard
# encoder took a sixth of the service's time under load (orjson: a tenth of that).
_encode = partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS)


def _database_refusal(exc: BaseException) -> tuple[str, str] | None:
    """The error and message for a request the database failed, not the member (503)."""
    if isinstance(exc, CommitUnknown):
        log.warning("lost the database connection during a commit: %s", exc.__cause__)
        return "unknown", ("the connection to the database closed while saving: look "
                           "whether your change is there before you try again")  # fmt: skip
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # lost twice (Store.run)
        log.warning("lost the database connection: %s", exc.orig)
        return "unavailable", "the community lost its database; nothing was saved, try again"
    if not isinstance(exc, OperationalError):
        return None
    if is_busy(exc):
        log.warning("database busy past the busy timeout: %s", exc.orig)
        return "busy", "the community is busy; nothing was saved, try again in a moment"
    log.error("the database cannot be used: %s", exc.orig)
    return "unavailable", "the community's database cannot be reached; nothing was saved"


class ApiHandler(RequestHandler):
    """Authenticates, opens one unit of work per request and turns refusals into JSON."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    @property
    def ctx(self) -> Any:
        return self.application.settings["nbcohort"]

    def body_json(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Invalid(f"request body is not valid JSON: {exc}", field="body") from None
        if not isinstance(data, dict):
            raise Invalid("request body must be a JSON object", field="body")
        return data

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise Invalid(f"{name} must be an integer, not {raw!r}", field=name) from None

    async def in_unit(self, work: Callable[[], T]) -> T:
        """Run a read on the event loop: reads never wait for a lock here, and a thread hop
        per read costs more under load than the read itself (GIL hand-offs)."""
        return self.ctx.store.run(work)

    async def in_write_unit(self, work: Callable[[bool], T]) -> T:
        """Run ``work(wait)`` as a write, on the event loop whenever the database is free.

        A writer thread sharing the GIL with a busy event loop waits for it at every SQLite
        call, so a write runs on the loop when it can start at once (``wait=False``). When
        another nbcohort writer holds the database (another worker process, a CLI command),
        it tries again for a short while (writes take milliseconds) without blocking the
        loop, then waits for the lock on the writer thread, so a long wait never stalls the
        service. A server database, or a connection outside nbcohort, cannot say how long it
        would wait: such a write goes to the writer thread at once.
        """
        store, executor = self.ctx.store, self.ctx.executor
        if executor is None:
            return store.run(work, True)
        try:
            return store.run(work, False)
        except WriterBusy as busy:
            if not busy.queued:
                return await IOLoop.current().run_in_executor(executor, store.run, work, True)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(_INLINE_RETRY_SECONDS),
                wait=wait_exponential(multiplier=0.0005, max=0.004),
                retry=retry_if_exception(lambda exc: isinstance(exc, WriterBusy) and exc.queued),
            ):
                with attempt:
                    return store.run(work, False)
        except (RetryError, WriterBusy):
            pass
        return await IOLoop.current().run_in_executor(executor, store.run, work, True)

    async def run(self, fn: Any, *, write: bool, status: int = 200, batch: bool = False) -> None:
        """Authenticate and call ``fn(session, actor, cohort)`` in one unit of work.

        ``batch`` lets a write whose work is all in the database share a transaction with
        others that arrive at the same moment (``batching.py``).
        """
        ctx, header = self.ctx, self.request.headers.get("Authorization")
        watch = ctx.watch if write else None
        marker = watch.marker() if watch is not None else 0

        def body(session: Session) -> bytes:
            actor = ctx.auth.authenticate(session, header)
            cohort = ctx.cohort(session, actor.cohort_id)
            result = fn(session, actor, cohort)
            # Serialise inside the scope: a failure here must roll the write back too.
            payload = _encode(result)
            if watch is not None:  # heard back with this commit (page_watch.py)
                watch.mark(session, marker)
            return payload

        def unit(wait: bool = True) -> bytes:
            with ctx.store.write(wait=wait) if write else ctx.store.read() as session:
                return body(session)

        async def write_unit() -> bytes:
            if batch and ctx.batcher is not None:
                grouped = await ctx.batcher.submit(body)
                if grouped is not ALONE:
                    assert isinstance(grouped, bytes)
                    return grouped
            return await self.in_write_unit(unit)

        try:
            payload = await (write_unit() if write else self.in_unit(unit))
        except ServiceError as exc:
            self.set_status(exc.status)
            self.finish(json.dumps(exc.as_dict(), ensure_ascii=False))
            return
        except (CommitUnknown, DBAPIError) as exc:
            refusal = _database_refusal(exc)
            if refusal is None:
                raise
            self.set_status(503)
            self.set_header("Retry-After", "2")
            self.finish(json.dumps({"error": refusal[0], "message": refusal[1]}))
            return
        if watch is not None:
            watch.answered(marker)
        self.set_status(status)
        self.finish(payload)

    def run_post(self, fn: Any, *, write: bool = True, status: int = 200) -> Awaitable[None]:
        """Like run(), for calls that return a post: answer with the post as the actor sees it."""
        return self.run(
            lambda s, a, c: threads.full_post(s, a, fn(s, a, c)), write=write, status=status
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):  # raised before run(), e.g. by body_json()
            self.set_status(exc.status)
            self.finish(json.dumps(exc.as_dict(), ensure_ascii=False))
            return
        code = "server_error" if status_code >= 500 else "http_error"
        self.finish(json.dumps({"error": code, "message": self._reason}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, ServiceError):
            super().log_exception(typ, value, tb)

    def prepare(self) -> None:
        limit = self.ctx.settings.max_body_bytes
        if len(self.request.body or b"") > limit:
            self.set_status(413)
            self.finish(json.dumps({"error": "too_large",
                                    "message": f"request body over {limit} bytes"}))  # fmt: skip


class HealthHandler(ApiHandler):
    async def get(self) -> None:
        store = self.ctx.store

        def ping() -> None:
            with store.read() as session:
                session.execute(select(1))

        await self.in_unit(ping)
        self.finish(json.dumps({"status": "ok", "version": _pkg.__version__}))


class MeHandler(ApiHandler):
    def get(self) -> Awaitable[None]:
        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            member = s.get(Member, actor.member_id)
            assert member is not None  # authenticated actors are members
            rules = self.ctx.rules
            return {"member": members.member_dict(member, private=True),
                    "cohort": cohort_summary(s, actor, cohort),
                    "rules": {"reactions": list(rules.reactions),
                              "max_post_chars": rules.max_post_chars,
                              "licenses": list(rules.licenses),
                              "max_artifact_bytes": rules.max_artifact_bytes}}  # fmt: skip

        return self.run(fn, write=False)


class MembersHandler(ApiHandler):
    def get(self) -> Awaitable[None]:
        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            return {"members": [members.member_dict(m)
                                for m in members.list_members(s, actor, cohort)]}  # fmt: skip

        return self.run(fn, write=False)


class ThreadHandler(ApiHandler):
    def get(self) -> Awaitable[None]:
        anchor = self.get_query_argument("anchor", "")
        before = self.int_arg("before")
        limit = self.int_arg("limit") or self.ctx.rules.page_size

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            return threads.read_thread(
                s, actor, cohort, anchor, before=before, limit=limit, cache=self.ctx.pages
            )

        return self.run(fn, write=False)


class ThreadReadHandler(ApiHandler):
    def post(self) -> Awaitable[None]:
        data = self.body_json()

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            return {"last_post_id": threads.mark_read(s, actor, cohort, data.get("anchor", ""))}

        return self.run(fn, write=True, batch=True)


def _parent(data: dict[str, Any]) -> int | None:
    value = data.get("parent_id")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise Invalid("parent_id must be an integer post id", field="parent_id")


class PostsHandler(ApiHandler):
    def post(self) -> Awaitable[None]:
        data, rules = self.body_json(), self.ctx.rules

        key = data.get("request_key")
        if key is not None and not isinstance(key, str):
            raise Invalid("request_key must be a string", field="request_key")

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            post = posts.create_post(
                s, actor, cohort, str(data.get("anchor", "")), data.get("body"),
                parent_id=_parent(data), title=str(data.get("title", "")), rules=rules,
                request_key=key,
            )  # fmt: skip
            # A new post has no reactions, and its author is the caller: no more queries. A
            # post sent again under its request key gets the answer it got the first time.
            return threads.post_dict(post, actor, author=actor.public())

        return self.run(fn, write=True, status=201, batch=True)


class PostHandler(ApiHandler):
    def get(self, post_id: str) -> Awaitable[None]:
        return self.run_post(lambda s, a, c: posts.get_post(s, a, int(post_id)), write=False)

    def patch(self, post_id: str) -> Awaitable[None]:
        data, rules = self.body_json(), self.ctx.rules
        return self.run_post(
            lambda s, a, c: posts.edit_post(s, a, int(post_id), data.get("body"), rules)
        )

    def delete(self, post_id: str) -> Awaitable[None]:
        reason = str(self.body_json().get("reason", ""))
        return self.run_post(lambda s, a, c: posts.delete_post(s, a, int(post_id), reason))


class ReactionHandler(ApiHandler):
    def put(self, post_id: str, kind: str) -> Awaitable[None]:
        rules = self.ctx.rules
        return self.run(
            lambda s, a, c: {"added": posts.react(s, a, int(post_id), kind, rules)},
            write=True,
            batch=True,
        )

    def delete(self, post_id: str, kind: str) -> Awaitable[None]:
        return self.run(
            lambda s, a, c: {"removed": posts.unreact(s, a, int(post_id), kind)},
            write=True,
            batch=True,
        )


class FlagHandler(ApiHandler):
    def post(self, post_id: str) -> Awaitable[None]:
        reason, rules = str(self.body_json().get("reason", "")), self.ctx.rules
        return self.run_post(
            lambda s, a, c: posts.flag_post(s, a, int(post_id), reason, rules), status=201
        )


class ModerationHandler(ApiHandler):
    def post(self, post_id: str) -> Awaitable[None]:
        data = self.body_json()
        action, reason = str(data.get("action", "")), str(data.get("reason", ""))
        return self.run_post(
            lambda s, a, c: posts.moderate_post(s, a, int(post_id), action, reason)
        )


_ID = r"([0-9]{1,18})"
ROUTES: list[tuple[str, type[RequestHandler]]] = [
    (r"/api/v1/health", HealthHandler),
    (r"/api/v1/me", MeHandler),
    (r"/api/v1/members", MembersHandler),
    (r"/api/v1/thread", ThreadHandler),
    (r"/api/v1/thread/read", ThreadReadHandler),
    (r"/api/v1/posts", PostsHandler),
    (rf"/api/v1/posts/{_ID}", PostHandler),
    (rf"/api/v1/posts/{_ID}/reactions/([^/]+)", ReactionHandler),
    (rf"/api/v1/posts/{_ID}/flags", FlagHandler),
    (rf"/api/v1/posts/{_ID}/moderation", ModerationHandler),
]
