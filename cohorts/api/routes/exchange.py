"""The nbgrader exchange as a service (#18 part 3): archives in and out, lists as JSON.

Uploads stream: the token and the right to upload (course, role, name) are checked when
the headers arrive, a Content-Length over ``ExchangeSettings.max_upload_bytes`` is refused
(413) before any of the body is read, and the body goes chunk by chunk to a temporary file
in the exchange folder (this replica's scratch space), never whole into memory. It is
published (vetted, its row added, the archive put in the blob store: renamed into the
folder, or written as rows) in one unit of work; a body cut off halfway never reaches that
unit and its temporary file is removed, so the learner's earlier submission stays the
latest. Downloads stream the archive back a piece at a time, one unit of work per piece.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tornado.web import stream_request_body

from nbcohort.cohorts.api.answers import Refusal, database_refusal, encode
from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs_exchange import ReleaseQuery, SubmissionsQuery
from nbcohort.cohorts.api.routes.paths import ID, NAME, PREFIX
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services import exchange
from nbcohort.cohorts.services.auth import Actor, still_as_authenticated
from nbcohort.cohorts.services.errors import NotFound, ServiceError
from nbcohort.cohorts.services.exchange_blobs import BlobStore
from nbcohort.cohorts.services.exchange_packets import withdraw_packet
from nbcohort.cohorts.store import CommitUnknown

__all__ = ["ROUTES"]

T = TypeVar("T")
_BASE = rf"{PREFIX}/exchange/{NAME}"


class _ExchangeHandler(ApiHandler):
    """What every exchange route shares: the exchange folder, and a unit of work whose
    result the route uses itself (a file to stream) rather than answers with."""

    def root(self) -> Path:
        root = self.ctx.exchange_root
        if root is None:
            raise NotFound("this service has no exchange (ExchangeSettings)")
        return root

    def blobs(self) -> BlobStore:
        blobs = self.ctx.exchange_blobs
        if blobs is None:
            raise NotFound("this service has no exchange (ExchangeSettings)")
        return blobs

    async def unit(
        self,
        work: Callable[[Session, Actor, Cohort], T],
        *,
        write: bool = False,
        off_loop: bool = False,
    ) -> T:
        actor, ctx = self.actor, self.ctx
        assert actor is not None

        def body(session: Session) -> T:
            if write:  # as ApiHandler.run: a leave or a new role stops writes at once
                still_as_authenticated(session, actor)
            return work(session, actor, ctx.cohort(session, actor.cohort_id))

        try:
            if write:
                return await ctx.units.write(body, off_loop=off_loop)
            return await ctx.units.read(body)
        except (CommitUnknown, DBAPIError) as exc:
            refusal = database_refusal(exc)
            if refusal is None:
                raise
            raise refusal from None


@stream_request_body
class _UploadHandler(_ExchangeHandler):
    """An archive streamed to a temporary file, published by ``exchange.publish``."""

    kind = ""
    # Uploads on their way, per member, in this process: a learner's own uploads come one
    # after another, so a few at once is all anyone needs, and each may reach the upload
    # limit on the service's disk before any quota can count it.
    _in_flight: ClassVar[Counter[int]] = Counter()
    MAX_IN_FLIGHT: ClassVar[int] = 2

    def initialize(self) -> None:
        super().initialize()
        self._temp: Path | None = None
        self._fd: int | None = None
        self._digest = hashlib.sha256()
        self._flying: int | None = None  # the member whose in-flight count this upload holds

    def upload_key(self) -> str:
        """What ``exchange.check_upload`` names the upload by: the last part of the path."""
        return str(self.path_args[-1])

    def _check_length(self) -> None:
        limit = self.ctx.exchange_limit or self.ctx.settings.max_body_bytes
        length = self.request.headers.get("Content-Length", "")
        connection = self.request.connection
        if length.isdigit() and int(length) > limit:
            connection.set_max_body_size(int(length))  # type: ignore[union-attr]
            raise Refusal(413, "too_large", f"exchange upload over {limit} bytes")
        connection.set_max_body_size(limit + 65536)  # type: ignore[union-attr]

    async def prepare(self) -> None:
        await super().prepare()
        if self.refused or self.request.method not in ("PUT", "POST"):
            return
        course, key = self.path_args[0], self.upload_key()
        length = self.request.headers.get("Content-Length", "")
        incoming = int(length) if length.isdigit() else 0
        try:
            root = self.root()
            limits = self.ctx.exchange_quota
            await self.unit(
                lambda s, a, c: exchange.check_upload(
                    s, a, c, course, self.kind, key, limits, incoming=incoming
                )
            )
            self._take_a_place()
        except ServiceError as exc:
            self.refuse_unread(exc)
            return
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self._fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=root / "tmp")
        self._temp = Path(name)

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self._fd is None:
            return
        self._size += len(chunk)
        limit = self.ctx.exchange_limit or self.ctx.settings.max_body_bytes
        if self._size > limit:
            self._discard()
            self.refuse_unread(Refusal(413, "too_large", f"exchange upload over {limit} bytes"))
            return
        self._digest.update(chunk)
        os.write(self._fd, chunk)

    def _discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def _take_a_place(self) -> None:
        member = self.actor.member_id if self.actor is not None else None
        if member is None:
            return
        if self._in_flight[member] >= self.MAX_IN_FLIGHT:
            raise Refusal(
                429,
                "busy",
                f"{self.MAX_IN_FLIGHT} uploads of yours are already on their way; send the "
                "next when one has finished",
                retry_after=5,
            )
        self._in_flight[member] += 1
        self._flying = member

    def _leave_the_place(self) -> None:
        if self._flying is not None:
            self._in_flight[self._flying] -= 1
            if self._in_flight[self._flying] <= 0:
                del self._in_flight[self._flying]
            self._flying = None

    def on_connection_close(self) -> None:
        """A body cut off halfway: nothing was published; its temporary file goes."""
        self._discard()
        self._leave_the_place()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._discard()
        self._leave_the_place()

    async def _publish(self, course: str, key: str, *, force: bool = False) -> None:
        if self._finished or self._fd is None or self._temp is None:
            return
        blobs, limits = self.blobs(), self.ctx.exchange_quota
        fd, self._fd = self._fd, None
        # From here this method owns the file: a client gone meanwhile must not remove it.
        upload = exchange.Upload(
            self._temp, self._size, self._digest.hexdigest(), secrets.token_hex(16) + ".tar"
        )
        self._temp = None
        try:
            await asyncio.to_thread(os.fsync, fd)  # a whole archive to disk: not on the loop
        except BaseException:
            upload.temp.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        try:
            # Vetting and storing a whole archive takes a while: never on the event loop.
            result = await self.unit(
                lambda s, a, c: exchange.publish(
                    s, a, c, course, self.kind, key, upload, blobs, force=force, limits=limits
                ),
                write=True,
                off_loop=True,
            )
        except BaseException as exc:
            upload.temp.unlink(missing_ok=True)  # before the answer: nothing left behind it
            if not isinstance(exc, Refusal) or exc.code != "unknown":
                # Not committed: what the unit put in the folder (if it got so far) goes.
                blobs.forget(upload.blob)
            if isinstance(exc, ServiceError):
                self.refuse(exc)
                return
            raise
        upload.temp.unlink(missing_ok=True)  # the database keeps its copy in rows
        self.set_status(201)
        self.finish(encode(result))


class ReleasesHandler(_ExchangeHandler):
    async def get(self, course: str) -> None:
        self.root()
        await self.run(lambda s, a, c: {"releases": exchange.releases(s, a, c, course)})


class SubmissionsHandler(_ExchangeHandler):
    async def get(self, course: str) -> None:
        self.root()
        q = self.query(SubmissionsQuery)
        await self.run(
            lambda s, a, c: {
                "submissions": exchange.submissions(s, a, c, course, q.assignment, q.student)
            }
        )


class _DownloadMixin(_ExchangeHandler):
    kind = ""

    async def download(self, course: str, key: str) -> None:
        def find(s: Session, a: Actor, c: Cohort) -> tuple[str, dict[str, Any], int]:
            blob, meta = exchange.archive_of(s, a, c, course, self.kind, key)
            size = blobs.size(s, blob)
            if size is None:
                raise NotFound("this archive is missing on the service; tell your facilitator")
            return blob, meta, size

        try:
            blobs = self.blobs()
            blob, meta, size = await self.unit(find)
        except ServiceError as exc:
            self.refuse(exc)
            return
        self.set_header("Content-Type", "application/x-tar")
        self.set_header("X-Nbcohort-Exchange", encode(meta).decode())
        self.set_header("Content-Length", str(size))
        sent = seq = 0
        while sent < size:  # a unit of work per piece: no connection held while a client reads
            piece = await self.ctx.units.read(functools.partial(blobs.piece, blob=blob, seq=seq))
            if not piece:
                break  # gone meanwhile: the body ends short, and the client sees it broken
            self.write(piece)
            await self.flush()
            sent, seq = sent + len(piece), seq + 1
        self.finish()


class ReleaseHandler(_UploadHandler, _DownloadMixin):
    kind = "release"

    async def get(self, course: str, assignment: str) -> None:
        await self.download(course, assignment)

    async def put(self, course: str, assignment: str) -> None:
        await self._publish(course, assignment, force=self.query(ReleaseQuery).force)

    async def delete(self, course: str, assignment: str) -> None:
        """Staff take the assignment back (``nbgrader list --remove``)."""
        self.root()
        await self.run(lambda s, a, c: exchange.unrelease(s, a, c, course, assignment), write=True)


class SubmitHandler(_UploadHandler):
    kind = "submission"

    async def post(self, course: str, assignment: str) -> None:
        await self._publish(course, assignment)


class SubmissionHandler(_DownloadMixin):
    kind = "submission"

    async def get(self, course: str, raw_id: str) -> None:
        await self.download(course, raw_id)

    async def delete(self, course: str, raw_id: str) -> None:
        """A learner removes their own submission from their list (``nbgrader list --cached
        --remove``); staff still list and collect it."""
        self.root()
        await self.run(
            lambda s, a, c: exchange.remove_submission(s, a, c, course, raw_id), write=True
        )


class FeedbackHandler(_UploadHandler, _DownloadMixin):
    kind = "feedback"

    async def get(self, course: str, raw_id: str) -> None:
        await self.download(course, raw_id)

    async def put(self, course: str, raw_id: str) -> None:
        await self._publish(course, raw_id)


class PacketHandler(_UploadHandler):
    """A review round's anonymized packet, uploaded by staff when a round opens; reviewers
    read it through the peer-review packet route, never here."""

    kind = "packet"

    def upload_key(self) -> str:
        return f"{self.path_args[1]}/{self.path_args[2]}"

    async def put(self, course: str, assignment: str, packet: str) -> None:
        await self._publish(course, f"{assignment}/{packet}")

    async def delete(self, course: str, assignment: str, packet: str) -> None:
        """Withdraw a packet no round uses (a failed open's): its row, then its archive."""
        key = f"{assignment}/{packet}"

        def work(s: Session, a: Actor, c: Cohort) -> str | None:
            exchange.check_course(c, course)
            return withdraw_packet(s, a, c, key, blobs)

        try:
            blobs = self.blobs()
            blob = await self.unit(work, write=True)
        except ServiceError as exc:
            self.refuse(exc)
            return
        if blob is not None:
            blobs.forget(blob)
        self.set_status(204)
        self.finish()


ROUTES = [
    (rf"{_BASE}/releases", ReleasesHandler),
    (rf"{_BASE}/releases/{NAME}", ReleaseHandler),
    (rf"{_BASE}/assignments/{NAME}/submissions", SubmitHandler),
    (rf"{_BASE}/submissions", SubmissionsHandler),
    (rf"{_BASE}/submissions/{ID}", SubmissionHandler),
    (rf"{_BASE}/submissions/{ID}/feedback", FeedbackHandler),
    (rf"{_BASE}/assignments/{NAME}/packets/([^/]{{1,160}})", PacketHandler),
]
