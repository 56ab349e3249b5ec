"""A member's own data as one ZIP: what they wrote and made, with no one else's personal data.

``write_export`` writes, from one read of the store (a snapshot: call it in
``Store.read(snapshot=True)``), JSON files for their profile, posts, artifacts (and each
artifact's file), reviews they wrote, badges, "I applied this" notes, charter
acknowledgements and the pulse surveys they answered, plus a README. Other members appear as
"a member" or not at all: no author of a thread, a reviewed submission or a reaction is named,
and the names, emails and usernames of the cohort's other members are replaced with
"a member" in every text the archive carries (the member's own posts included: an @mention
names someone else). The files of their artifacts are given back as they were shared,
byte for byte. A file's name in the ZIP is never the member's: ``artifacts/<id>/<safe name>``.

The caller gives a file object to write into (a private temporary file: two requests at once
each get their own, complete archive, and nothing half-written is ever visible). Memory is
bounded: rows are read in batches and one artifact's content at a time; past
``PrivacySettings.export_max_bytes`` the export stops with 413.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import (
    Allocation,
    AppliedPractice,
    Artifact,
    BadgeAward,
    CharterAck,
    Member,
    Post,
    PulseResponse,
    PulseSurvey,
    Reaction,
    Review,
    ReviewRound,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.errors import Forbidden, ServiceError
from nbcohort.cohorts.services.exchange_blobs import BlobStore
from nbcohort.cohorts.services.export_community import COMMUNITY_FILES, community_parts
from nbcohort.cohorts.services.export_exchange import (
    EXCHANGE_README,
    exchange_bytes,
    export_exchange,
)

__all__ = ["ExportTooLarge", "export_name", "safe_name", "write_export"]

A_MEMBER = "a member"
_BATCH = 500
_README = """Your data from the cohort {cohort}, exported {when} (UTC).

member.json         your profile as the community keeps it
posts.json          every post you wrote (text as you wrote it; reactions as counts)
artifacts.json      what you shared into the artifact library; files in artifacts/<id>/
reviews.json        the peer reviews you wrote (whose work it was is not included)
badges.json         your badges
applied.json        your "I applied this" notes
charter.json        the charter versions you acknowledged
pulse.json          the pulse surveys you answered (answers are stored without your name,
                    so they cannot be given back to you)
{community}{exchange}
Other members appear as "a member" or not at all.
"""


class ExportTooLarge(ServiceError):
    """An export bigger than the service gives out; an instructor can export it by the CLI."""

    status = 413
    code = "too_large"


def export_name(member: Member, when: datetime | None = None) -> str:
    """The file name a member's export is offered under (no personal data in it)."""
    return f"nbcohort-my-data-{(when or utcnow()):%Y%m%d-%H%M%S}.zip"


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name a member gave, made harmless inside a ZIP: no folders, no '..', no
    control characters, no leading dot, at most 100 characters."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r"[^\w.\- ()+]", "_", base).strip(" .")
    return base[-100:] or fallback


_TOKEN = re.compile(r"[\w.+\-@]+")


def _tokens(text: str) -> list[str]:
    return [m.group().strip(".").lstrip("@").casefold() for m in _TOKEN.finditer(text)]


class _Redactor:
    """Replaces the names, emails and usernames of the cohort's other members in text.

    Text is cut into tokens (runs of letters, digits and ``.+-@``); a token that is another
    member's username or email (``@ben``, ``ben@example.org``), or a run of tokens that
    spells another member's full name, becomes "a member". Lookups in sets, not one pattern
    with an alternative per member: a cohort of 10,000 costs the same per word as one of 10.
    """

    def __init__(self, session: Session, member: Member) -> None:
        self._single: set[str] = set()
        self._names: set[tuple[str, ...]] = set()  # full names, as their tokens
        self._lengths: dict[str, set[int]] = {}  # first token -> lengths of names it starts
        rows = session.execute(
            select(Member.name, Member.email, Member.username).where(
                Member.cohort_id == member.cohort_id, Member.id != member.id
            )
        )
        for name, email, username in rows:
            for word in (email, username):
                if word and word.strip():
                    self._single.add(word.strip().casefold())
            parts = [t for t in _tokens(name or "") if t]
            if len(parts) == 1:
                self._single.add(parts[0])
            elif parts and name != A_MEMBER:
                self._names.add(tuple(parts))
                self._lengths.setdefault(parts[0], set()).add(len(parts))

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        found = list(_TOKEN.finditer(text))
        keys = [m.group().strip(".").lstrip("@").casefold() for m in found]
        out, at, i = [], 0, 0
        while i < len(found):
            length = self._match(keys, i)
            if not length:
                i += 1
                continue
            first, last = found[i], found[i + length - 1]
            begin = first.start() + (len(first.group()) - len(first.group().lstrip(".")))
            end = last.end() - (len(last.group()) - len(last.group().rstrip(".")))
            out += [text[at:begin], A_MEMBER]
            at, i = end, i + length
        out.append(text[at:])
        return "".join(out)

    def _match(self, keys: list[str], i: int) -> int:
        """How many tokens from ``i`` name another member (0: none)."""
        for length in sorted(self._lengths.get(keys[i], ()), reverse=True):  # longest first
            if tuple(keys[i : i + length]) in self._names:
                return length
        return 1 if keys[i] in self._single else 0


class _Zip:
    """The ZIP being written, counting what goes in against the limit."""

    def __init__(self, out: IO[bytes], limit: int) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.limit, self.size = limit, 0

    def _count(self, size: int) -> None:
        self.size += size
        if self.size > self.limit:
            raise ExportTooLarge(
                f"your export is over {self.limit} bytes "
                "(PrivacySettings.export_max_bytes); ask an instructor for it",
                field="export_max_bytes",
            )

    def add(self, name: str, data: bytes) -> None:
        self._count(len(data))
        self.zip.writestr(_info(name), data)

    def add_stream(self, name: str, src: BinaryIO, size: int) -> None:
        """A file streamed in (an exchange archive: up to the exchange's upload limit)."""
        self._count(size)
        with self.zip.open(_info(name), "w", force_zip64=True) as dest:
            shutil.copyfileobj(src, dest, 1024 * 1024)

    def json(self, name: str, value: Any) -> None:
        self.add(name, json.dumps(value, ensure_ascii=False, indent=1, default=str).encode())


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=utcnow().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def write_export(
    session: Session,
    member: Member,
    out: IO[bytes],
    settings: PrivacySettings | None = None,
    exchange: BlobStore | None = None,
) -> dict[str, int]:
    """Write ``member``'s export into ``out`` (a ZIP); returns how many of each were
    written. Refuses a member who left (their data went with them). With the service's
    ``exchange`` archives, their exchange submissions and the feedback on them go in too."""
    if member.left_at is not None or not member.active:
        raise Forbidden("this member left the cohort; there is nothing to export")
    limit = (settings or PrivacySettings()).export_max_bytes
    files = session.scalar(
        select(func.coalesce(func.sum(Artifact.size), 0)).where(Artifact.author_id == member.id)
    )
    files = int(files or 0) + (exchange_bytes(session, member) if exchange else 0)
    if files > limit:
        raise ExportTooLarge(
            f"your files alone are {files} bytes, over {limit} "
            "(PrivacySettings.export_max_bytes); ask an instructor for them",
            field="export_max_bytes",
        )
    redact = _Redactor(session, member)
    z = _Zip(out, limit)
    try:
        counts = _write(session, member, z, redact)
        if exchange is not None:
            counts["exchange"] = export_exchange(session, member, z, exchange)
        return counts
    finally:
        z.zip.close()  # a refused export's partial file is the caller's to throw away


def _write(session: Session, member: Member, z: _Zip, redact: _Redactor) -> dict[str, int]:
    counts: dict[str, int] = {}
    z.add(
        "README.txt",
        _README.format(
            cohort=member.cohort.slug,
            when=utcnow(),
            community=COMMUNITY_FILES,
            exchange=EXCHANGE_README,
        ).encode(),
    )
    z.json(
        "member.json",
        {
            "username": member.username,
            "name": member.name,
            "email": member.email,
            "role": member.role,
            "team": member.team,
            "timezone": member.timezone,
            "joined_at": _when(member.joined_at),
            "email_pref": member.email_pref,
            "directory_opt_in": member.directory_opt_in,
            "directory_skills": list(member.directory_skills or []),
            "calendar_link_version": member.calendar_link_version,
            "cohort": member.cohort.slug,
        },
    )
    posts = list(_posts(session, member, redact))
    counts["posts"] = len(posts)
    z.json("posts.json", posts)
    counts["artifacts"] = _artifacts(session, member, redact, z)
    reviews = list(_reviews(session, member, redact))
    counts["reviews"] = len(reviews)
    z.json("reviews.json", reviews)
    badges = [
        {"badge": b.badge, "reason": redact(b.reason), "awarded_at": _when(b.awarded_at)}
        for b in session.scalars(
            select(BadgeAward).where(BadgeAward.member_id == member.id).order_by(BadgeAward.id)
        )
    ]
    counts["badges"] = len(badges)
    z.json("badges.json", badges)
    applied = [
        {
            "practice": a.practice,
            "note": redact(a.note),
            "created_at": _when(a.created_at),
            "updated_at": _when(a.updated_at),
        }
        for a in session.scalars(
            select(AppliedPractice)
            .where(AppliedPractice.member_id == member.id)
            .order_by(AppliedPractice.id)
        )
    ]
    counts["applied"] = len(applied)
    z.json("applied.json", applied)
    acks = [
        {"version": a.version, "acknowledged_at": _when(a.acked_at)}
        for a in session.scalars(
            select(CharterAck).where(CharterAck.member_id == member.id).order_by(CharterAck.id)
        )
    ]
    counts["charter"] = len(acks)
    z.json("charter.json", acks)
    pulse = [
        {"survey": key, "title": title, "answered_at": _when(at)}
        for key, title, at in session.execute(
            select(PulseSurvey.key, PulseSurvey.title, PulseResponse.at)
            .join(PulseResponse, PulseResponse.survey_id == PulseSurvey.id)
            .where(PulseResponse.member_id == member.id)
            .order_by(PulseResponse.at)
        )
    ]
    counts["pulse"] = len(pulse)
    z.json("pulse.json", pulse)
    for name, rows in community_parts(session, member, redact).items():
        counts[name.removesuffix(".json")] = len(rows)
        z.json(name, rows)
    return counts


def _posts(session: Session, member: Member, redact: _Redactor) -> Iterator[dict[str, Any]]:
    reactions: dict[int, dict[str, int]] = {}
    for post_id, kind, n in session.execute(
        select(Reaction.post_id, Reaction.kind, func.count())
        .join(Post, Post.id == Reaction.post_id)
        .where(Post.author_id == member.id)
        .group_by(Reaction.post_id, Reaction.kind)
    ):
        reactions.setdefault(post_id, {})[kind] = n
    rows = session.execute(
        select(Post, Thread.anchor, Thread.title)
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == member.id)
        .order_by(Post.id)
        .execution_options(yield_per=_BATCH)
    )
    for post, anchor, title in rows:
        yield {
            "id": post.id,
            "thread": anchor,
            "thread_title": redact(title),
            "in_reply_to": post.parent_id,
            "markdown": redact(post.body_md),
            "created_at": _when(post.created_at),
            "edited_at": _when(post.edited_at),
            "deleted": post.deleted,
            "hidden": post.hidden,
            "reactions": reactions.get(post.id, {}),
        }


def _artifacts(session: Session, member: Member, redact: _Redactor, z: _Zip) -> int:
    listed = []
    ids = list(
        session.scalars(
            select(Artifact.id).where(Artifact.author_id == member.id).order_by(Artifact.id)
        )
    )
    for artifact_id in ids:  # one file's content in memory at a time
        a = session.get_one(Artifact, artifact_id)
        path = f"artifacts/{a.id}/{safe_name(a.filename)}"
        z.add(path, a.content)
        listed.append(
            {
                "id": a.id,
                "title": redact(a.title),
                "description": redact(a.description),
                "tags": [redact(t) for t in a.tags or []],
                "license": a.license,
                "filename": a.filename,
                "file": path,
                "sha256": a.sha256,
                "size": a.size,
                "source": a.source,
                "created_at": _when(a.created_at),
            }
        )
        session.expunge(a)
    z.json("artifacts.json", listed)
    return len(listed)


def _reviews(session: Session, member: Member, redact: _Redactor) -> Iterable[dict[str, Any]]:
    rows = session.execute(
        select(Review, ReviewRound.assignment, Allocation.kind)
        .join(Allocation, Allocation.id == Review.allocation_id)
        .join(ReviewRound, ReviewRound.id == Allocation.round_id)
        .where(Allocation.reviewer_id == member.id)
        .order_by(Review.id)
    )
    for review, assignment, kind in rows:
        yield {
            "assignment": assignment,
            "kind": kind,
            "scores": review.scores,
            "comments": {k: redact(str(v)) for k, v in (review.comments or {}).items()},
            "overall_comment": redact(review.overall_comment),
            "draft": review.draft,
            "submitted_at": _when(review.submitted_at),
            "helpfulness": review.helpfulness,
        }
