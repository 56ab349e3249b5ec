"""The request path every route shares: authenticate -> check the input -> one unit of work
over the services layer -> encode -> answer.

The token is checked as soon as the headers arrive and before the body is read, so a caller
without a valid token never has a body parsed (``stream_request_body``): a small one is read
to its end and dropped, a large one is never read. Route handlers
(``routes/``) only say what to parse and which service function to call; where the unit runs
is ``units.py``'s business, and every refusal leaves in the shape ``answers.py`` gives it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tornado.ioloop import IOLoop
from tornado.web import Finish, HTTPError, stream_request_body

from nbcohort.cohorts.api.access_log import RedactedLogs
from nbcohort.cohorts.api.answers import Refusal, database_refusal, encode, refusal_of
from nbcohort.cohorts.api.parsing import parse_body, parse_query
from nbcohort.cohorts.api.security_headers import secure_headers
from nbcohort.cohorts.api.tokens import token_from_header
from nbcohort.cohorts.config_hub import COHORT_HEADER
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.auth import (
    Actor,
    NotOnRoster,
    RoleChanged,
    still_as_authenticated,
)
from nbcohort.cohorts.services.errors import Invalid, NotFound, ServiceError, Unauthorized
from nbcohort.cohorts.store import CommitUnknown

if TYPE_CHECKING:
    from nbcohort.cohorts.api.app import ServiceContext

__all__ = ["ApiHandler", "NotFoundHandler", "Work"]

log = logging.getLogger("nbcohort.service")
M = TypeVar("M", bound=BaseModel)
_MAX_SLUG = 64  # Cohort.slug's column
_LANE_FULL_SECONDS = 2  # a full hub lane (throttle.HubLane) empties in moments
# A body up to this size is read and dropped before a refusal, a larger one is not read.
_DRAINED_BYTES = 64 * 1024
_DRAIN_SECONDS = 10  # ... and it has this long to arrive (a refused caller holds nothing long)
# What a route does in its unit of work: (session, actor, the actor's cohort) -> JSON-able.
Work = Callable[[Session, Actor, Cohort], Any]


def _too_many(wait: int) -> Refusal:
    return Refusal(
        429,
        "too_many_attempts",
        f"too many failed token attempts from your address; try again in {wait} s",
        retry_after=wait,
    )


@stream_request_body
class ApiHandler(RedactedLogs):
    """One API request: JSON in, JSON out, the caller known before anything else is done."""

    public = False  # True: answers without a token (health)

    def initialize(self) -> None:
        self.actor: Actor | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._refusal: ServiceError | None = None  # said once the small body has arrived

    @property
    def refused(self) -> bool:
        """Refused before the body: answered already, or once the body has been read."""
        return self._finished or self._refusal is not None

    @property
    def ctx(self) -> ServiceContext:
        return self.application.settings["nbcohort"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        secure_headers(self)

    # -- before the body --------------------------------------------------------------------
    async def prepare(self) -> None:
        try:
            self._check_length()
            if not self.public:
                self.actor = await self._authenticate()
                self._note_visit(self.actor)
        except ServiceError as exc:
            self.refuse_unread(exc)
        except (CommitUnknown, DBAPIError) as exc:  # the database, asked who is calling
            refusal = database_refusal(exc)
            if refusal is None:
                raise
            self.refuse_unread(refusal)

    def _note_visit(self, actor: Actor) -> None:
        """In memory; a write of every noted member now and then (``seen.py``)."""
        seen = self.ctx.seen
        if seen is not None and actor.member_id is not None and seen.saw(actor.member_id):
            IOLoop.current().spawn_callback(seen.write, self.ctx.units)

    def _check_length(self) -> None:
        limit = self.ctx.settings.max_body_bytes
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            # Let the connection read what it must without its own (non-JSON) refusal.
            self.request.connection.set_max_body_size(int(length))  # type: ignore[union-attr]
            raise _too_large(limit)
        if "chunked" in self.request.headers.get("Transfer-Encoding", "").lower():
            # No length to check: ``data_received`` counts the chunks as they come and refuses
            # at the limit, in the API's JSON; Tornado's own count of the sizes the chunks
            # announce would cut in first with a bare 400. Memory stays one chunk piece.
            self.request.connection.set_max_body_size(sys.maxsize)  # type: ignore[union-attr]

    async def _authenticate(self) -> Actor:
        ctx, header = self.ctx, self.request.headers.get("Authorization")
        address = self.request.remote_ip or ""
        token, known = token_from_header(header), ctx.known_tokens
        unseen = bool(header) and not ctx.auth.recognizes(header)
        wait = None
        if unseen:
            wait = await ctx.failed_attempts.retry_after(address)
            # Valid lately on another process (throttle_known.py): it gets in here too.
            if wait is not None and token and known and await known.knows(token):
                wait = None
        try:
            if wait is not None and not ctx.auth.checks_locally:
                # A hub token from a refused address: to the hub, one at a time (throttle.py).
                async with ctx.hub_lane.through() as admitted:
                    if not admitted:
                        raise _too_many(min(wait, _LANE_FULL_SECONDS))
                    actor = await ctx.auth.authenticate(header, self._cohort_named())
            else:
                actor = await ctx.auth.authenticate(header, self._cohort_named())
        except Unauthorized:
            if wait is not None:  # refused address, wrong credential: refused, not counted
                raise _too_many(wait) from None
            if header:
                await ctx.failed_attempts.failed(address)
            raise
        if unseen and token and known is not None:
            known.remember_later(token)
        return actor

    def _cohort_named(self) -> str | None:
        """The cohort the request says it is for (a hub user on several rosters names one)."""
        named = self.request.headers.get(COHORT_HEADER, "").strip()
        if len(named) > _MAX_SLUG:
            raise Invalid(
                f"the {COHORT_HEADER} header is not a cohort's slug (over {_MAX_SLUG} characters)",
                field=COHORT_HEADER,
            )
        if not (named.isascii() and named.isprintable()):
            raise Invalid(
                f"the {COHORT_HEADER} header is not a cohort's slug (a control character or "
                "a letter outside ASCII)",
                field=COHORT_HEADER,
            )
        return named or None

    def data_received(self, chunk: bytes) -> None:
        if self.refused:
            return
        self._size += len(chunk)
        limit = self.ctx.settings.max_body_bytes
        if self._size > limit:
            self._chunks.clear()
            self.refuse_unread(_too_large(limit))
            return
        self._chunks.append(chunk)

    # -- what routes call -------------------------------------------------------------------
    def body(self, model: type[M]) -> M:
        """The request body as ``model``, or a 422 naming the field."""
        if self._finished:  # refused while the body arrived (413)
            raise Finish()
        return parse_body(model, b"".join(self._chunks))

    def query(self, model: type[M]) -> M:
        """The query string as ``model``, or a 422 naming the field."""
        return parse_query(model, self.request.query_arguments)

    async def run(
        self, work: Work, *, write: bool = False, batch: bool = False, status: int = 200
    ) -> None:
        """Answer with ``work(session, actor, cohort)`` run in one unit of work.

        ``batch``: a write whose work is all in the database may share a transaction with
        others that arrive at the same moment (``units.py``).
        """
        if self._finished:
            return
        try:
            try:
                payload = await self._unit(work, write, batch)
            except RoleChanged:
                # Checked with a role a few seconds old, nothing saved: authenticate afresh
                # (the hub's groups included) and run it once more with the new role.
                self.actor = await self._authenticate()
                payload = await self._unit(work, write, batch)
        except ServiceError as exc:
            self.refuse(exc)
            return
        except (CommitUnknown, DBAPIError) as exc:
            refusal = database_refusal(exc)
            if refusal is None:
                raise
            self.refuse(refusal)
            return
        self.set_status(status)
        self.finish(payload)

    async def _unit(self, work: Work, write: bool, batch: bool) -> bytes:
        actor, ctx = self.actor, self.ctx
        assert actor is not None  # authenticated in prepare(); public routes don't run work

        def unit(session: Session) -> bytes:
            if write:  # the actor may be a few seconds old: a leave or a new role stops it
                still_as_authenticated(session, actor)
            result = work(session, actor, ctx.cohort(session, actor.cohort_id))
            return encode(result)  # inside the unit: a failure here rolls the write back too

        try:
            if write:
                return await ctx.units.write(unit, batch=batch)
            return await ctx.units.read(unit)
        except (NotOnRoster, RoleChanged):
            if actor.member_id is not None:
                ctx.auth.forget_member(actor.member_id)  # the next check is made afresh
            raise

    # -- answers ----------------------------------------------------------------------------
    def refuse(self, exc: ServiceError) -> None:
        """Answer with ``exc``'s status and the API's error shape."""
        if self._finished:
            return
        if self._body_unread():
            # Tornado closes the connection after this answer rather than read the rest:
            # say so, or a client sends its next request on it and gets a reset.
            self.set_header("Connection", "close")
        self.set_status(exc.status)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        self.finish(encode(exc.as_dict()))

    def refuse_unread(self, exc: ServiceError) -> None:
        """Refuse before the body is read.

        A small body is read to its end and dropped first, and the refusal said after it:
        closing with bytes still on their way makes the server's TCP stack reset the
        connection, and a client that has not yet read the refusal loses it (a wrong token's
        401 would arrive as "connection reset"). A large or unsized body is not read: the
        server closes the connection once it has answered, and says so, so a client does not
        send its next request on it.
        """
        if self.refused:
            return
        length = self.request.headers.get("Content-Length", "")
        chunked = "chunked" in self.request.headers.get("Transfer-Encoding", "").lower()
        if not chunked and (not length or (length.isdigit() and int(length) <= _DRAINED_BYTES)):
            self._refusal = exc
            self.request.connection.set_body_timeout(_DRAIN_SECONDS)  # type: ignore[union-attr]
            # Tornado calls the method once the body is in: it answers with the refusal.
            setattr(self, str(self.request.method).lower(), self._say_refusal)
            return
        self.refuse(exc)  # says Connection: close

    def _say_refusal(self, *_args: str) -> None:
        assert self._refusal is not None
        self.refuse(self._refusal)

    def on_connection_close(self) -> None:
        """A caller refused before the body and gone before it came: its access line is
        written all the same, so a run of wrong tokens shows in the log."""
        if self._refusal is not None and not self._finished:
            self.set_status(self._refusal.status)
            self.application.log_request(self)
        super().on_connection_close()

    def _body_unread(self) -> bool:
        """Whether the request's body has yet to be read in full (Tornado's own signal for a
        streamed body; if it is ever missing, the answer is taken to close the connection)."""
        arrived = getattr(self.request, "_body_future", None)
        return arrived is None or not arrived.done()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):  # raised by a route before its unit of work
            self.refuse(exc)
            return
        if isinstance(exc, HTTPError) and exc.log_message and status_code < 500:
            reason = exc.log_message
        else:
            reason = self._reason
        # Raised before the body was read (a method Tornado does not know, a path value that
        # is not UTF-8, a fault in prepare): refuse() says the connection closes.
        self.refuse(refusal_of(status_code, reason))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, ServiceError):
            super().log_exception(typ, value, tb)


class NotFoundHandler(ApiHandler):
    """Any path the API does not have: a JSON 404, read no further than the headers."""

    public = True

    async def prepare(self) -> None:
        self.refuse_unread(NotFound(f"no such route: {self.request.path[:200]}"))


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "too_large", f"request body over {limit} bytes")
