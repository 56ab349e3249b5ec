"""The cohort's charter: a two-page Markdown document, published in versions; members read
it, see what changed since the version they acknowledged, and acknowledge the current one."""

from __future__ import annotations

import difflib
from typing import Any, cast

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile
from nbcohort.cohorts.local_time import WEEKDAYS
from nbcohort.cohorts.models import CharterAck, CharterVersion, Cohort, Member, utcnow
from nbcohort.cohorts.prompt_library import library_text
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid
from nbcohort.cohorts.services.moderation_mine import code_of_conduct
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = [
    "MAX_CHARTER_CHARS",
    "ack_charter",
    "charter_diff",
    "charter_view",
    "new_charter",
    "publish_charter",
]

MAX_CHARTER_CHARS = 100_000
_ACK = cast(Table, CharterAck.__table__)
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=False)
_NTH = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


def new_charter(
    session: Session, cohort: Cohort, spec: CohortFile | None, course_title: str = ""
) -> str:
    """A charter to edit, from the kit's template and what the cohort file says."""
    values: dict[str, Any] = {
        "title": cohort.title,
        "course": course_title or cohort.course,
        "starts_on": cohort.starts_on.strftime("%-d %B %Y") if cohort.starts_on else "",
        "ends_on": cohort.ends_on.strftime("%-d %B %Y") if cohort.ends_on else "",
        "timezone": cohort.timezone,
        "facilitators": [],
        "champions": _names(session, cohort, "champion"),
        "routines": [],
        "prompts": None,
        "highlights": None,
        "clinic": None,
    }
    if spec is not None:
        c = spec.cadence
        values["facilitators"] = _names(session, cohort, None, spec.cohort.facilitators)
        days = [d for d in WEEKDAYS if d in c.prompts.days]
        if c.prompts.enabled:
            label = "weekday" if days == list(WEEKDAYS[:5]) else ", ".join(days)
            values["prompts"] = {"days": label, "time": f"{c.prompts.time:%H:%M}"}
        values["routines"] = [
            {
                "title": r.title,
                "day": r.day.title(),
                "time": f"{r.time:%H:%M}",
                "host": (_names(session, cohort, None, [r.host]) or [""])[0] if r.host else "",
            }
            for r in c.routines
        ]
        if c.highlights.enabled:
            h = c.highlights
            values["highlights"] = {"day": h.day.title(), "time": f"{h.time:%H:%M}"}
        if c.clinic.enabled:
            k = c.clinic
            values["clinic"] = {
                "when": f"the {_NTH[k.week]} {k.day.title()} of the month at {k.time:%H:%M}",
                "minutes": k.minutes,
                "location": k.location,
            }
    return _ENV.from_string(library_text("charter.md.j2")).render(values).strip() + "\n"


def _names(
    session: Session, cohort: Cohort, role: str | None, who: list[str] | None = None
) -> list[str]:
    query = select(Member).where(Member.cohort_id == cohort.id, Member.active.is_(True))
    if role is not None:
        return [
            m.name for m in session.scalars(query.where(Member.role == role).order_by(Member.name))
        ]
    found = {m.username.lower(): m.name for m in session.scalars(query)}
    found |= {(m.email or "").lower(): m.name for m in session.scalars(query)}
    return [found.get(w.strip().lower(), w) for w in who or []]


def _latest(session: Session, cohort: Cohort) -> CharterVersion | None:
    return session.scalar(
        select(CharterVersion)
        .where(CharterVersion.cohort_id == cohort.id)
        .order_by(CharterVersion.version.desc())
        .limit(1)
    )


def publish_charter(
    session: Session, actor: Actor, cohort: Cohort, body: str, note: str = ""
) -> CharterVersion:
    """Store ``body`` as the charter's next version; from the second on, ``note`` says what
    changed (members read it before they acknowledge again)."""
    require(actor, "charter.publish", cohort.id)
    body = body.replace("\r\n", "\n").strip() + "\n"
    if not body.strip():
        raise Invalid("the charter is empty", field="body")
    if len(body) > MAX_CHARTER_CHARS:
        raise Invalid(f"a charter is limited to {MAX_CHARTER_CHARS} characters", field="body")
    latest = _latest(session, cohort)
    if latest is not None and latest.body_md == body:
        raise Conflict(f"nothing changed since version {latest.version}", field="body")
    if latest is not None and not note.strip():
        raise Invalid("say what changed (--note) so members know what to read", field="note")
    version = CharterVersion(
        cohort_id=cohort.id,
        version=(latest.version if latest else 0) + 1,
        body_md=body,
        note=note.strip()[:500] or "first version",
        published_by=actor.member_id,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        raise Conflict("another version was published at the same moment; try again") from None
    session.get_one(Cohort, cohort.id).charter = body
    record(session, cohort.id, actor.member_id, "charter.publish", version, version=version.version)
    return version


def charter_diff(old: str, new: str, old_version: int, new_version: int) -> str:
    """What changed between two versions, as a unified diff of their Markdown."""
    lines = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        f"version {old_version}",
        f"version {new_version}",
        lineterm="",
        n=1,
    )
    return "\n".join(lines)


def charter_view(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    """The current charter, the actor's acknowledgement, and what changed since it."""
    require(actor, "cohort.read", cohort.id)
    latest = _latest(session, cohort)
    mine = None
    if actor.member_id is not None:
        mine = session.scalar(
            select(CharterAck)
            .where(CharterAck.member_id == actor.member_id)
            .order_by(CharterAck.version.desc())
            .limit(1)
        )
    out: dict[str, Any] = {
        "version": latest.version if latest else None,
        "html": render_markdown(latest.body_md if latest else cohort.charter or ""),
        "note": latest.note if latest else "",
        "published_at": latest.published_at.isoformat() if latest else None,
        "acked_version": mine.version if mine else None,
        "acked_at": mine.acked_at.isoformat() if mine else None,
        "needs_ack": bool(
            latest
            and actor.can("charter.ack")
            and actor.member_id is not None
            and (mine is None or mine.version < latest.version)
        ),
        "changes": [],
        "diff": "",
        # The cohort file's code of conduct, part of the charter (services/moderation_mine.py).
        "code_of_conduct": code_of_conduct(cohort),
    }
    if latest is not None and mine is not None and mine.version < latest.version:
        since = session.scalars(
            select(CharterVersion)
            .where(CharterVersion.cohort_id == cohort.id, CharterVersion.version > mine.version)
            .order_by(CharterVersion.version)
        ).all()
        out["changes"] = [
            {"version": v.version, "note": v.note, "published_at": v.published_at.isoformat()}
            for v in since
        ]
        acked = session.scalar(
            select(CharterVersion.body_md).where(
                CharterVersion.cohort_id == cohort.id, CharterVersion.version == mine.version
            )
        )
        out["diff"] = charter_diff(acked or "", latest.body_md, mine.version, latest.version)
    return out


def ack_charter(session: Session, actor: Actor, cohort: Cohort, version: int) -> dict[str, Any]:
    """Record that the actor read and accepts ``version`` (the current one); again is a no-op."""
    require(actor, "charter.ack", cohort.id)
    if actor.member_id is None:
        raise Forbidden("only members acknowledge the charter")
    current = session.scalar(
        select(func.max(CharterVersion.version)).where(CharterVersion.cohort_id == cohort.id)
    )
    if current is None:
        raise Conflict("no charter has been published yet", field="version")
    if version != current:
        raise Conflict(
            f"version {version} is not the current charter (version {current}): read it first",
            field="version",
        )
    row = {
        "cohort_id": cohort.id,
        "member_id": actor.member_id,
        "version": version,
        "acked_at": utcnow(),
    }
    if insert_if_absent(session, _ACK, row):
        record(session, cohort.id, actor.member_id, "charter.ack", None, version=version)
    return charter_view(session, actor, cohort)
