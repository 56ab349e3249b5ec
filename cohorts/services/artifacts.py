"""The cohort's artifact library: shared notebooks, scripts and files, and their reuse."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, joinedload

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Artifact, ArtifactReuse, Cohort, utcnow
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid, NotFound
from nbcohort.cohorts.services.members import member_dict
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = [
    "artifact_dict",
    "clean_filename",
    "copy_artifact",
    "get_artifact",
    "list_artifacts",
    "share_artifact",
]

_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def clean_filename(name: object) -> str:
    """A bare file name: no folders, no leading dot, no control characters. A name with a
    folder in it is refused, not cut down: what it would be saved as is then never a guess."""
    if not isinstance(name, str):
        raise Invalid("filename must be text", field="filename")
    if "/" in name or "\\" in name:
        raise Invalid(
            f"{name[:100]!r} names a folder: give the file's own name, without '/' or '\\'",
            field="filename",
        )
    base = unicodedata.normalize("NFC", name).strip()
    if (
        not base
        or base.startswith(".")
        or len(base) > 255
        or any(unicodedata.category(ch).startswith("C") for ch in base)
    ):
        raise Invalid(f"{name[:100]!r} is not a usable file name", field="filename")
    return base


def _clean_tags(tags: object) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[,\s]+", tags) if t]
    if not isinstance(tags, list) or len(tags) > 10:
        raise Invalid("tags: a list of at most 10 words", field="tags")
    out = []
    for tag in tags:
        tag = str(tag).strip().lower()
        if not _TAG.match(tag):
            raise Invalid(f"tag {tag!r}: lowercase letters, digits and '-' (max 32)", field="tags")
        if tag not in out:
            out.append(tag)
    return out


def share_artifact(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    filename: object,
    content: bytes,
    title: object,
    description: object = "",
    tags: object = None,
    license: object = None,
    rules: CommunitySettings | None = None,
    source: str = "share",
) -> Artifact:
    """Add a member's file to the library, with what it is and how others may reuse it."""
    rules = rules or CommunitySettings()
    require(actor, "artifact.share", cohort.id)
    name = clean_filename(filename)
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
        raise Invalid("an artifact needs a title of at most 200 characters", field="title")
    if not isinstance(description, str) or len(description) > 5000:
        raise Invalid("description: text of at most 5000 characters", field="description")
    if license is None:  # the cohort's first license is its default
        license = rules.licenses[0]
    if license not in rules.licenses:
        raise Invalid(
            f"license {license!r} is not one of {', '.join(rules.licenses)}", field="license"
        )
    if not content:
        raise Invalid(f"{name} is empty", field="content")
    if len(content) > rules.max_artifact_bytes:
        raise Invalid(
            f"{name} is {len(content)} bytes; the library takes files up to "
            f"{rules.max_artifact_bytes} bytes",
            field="content",
        )
    artifact = Artifact(
        cohort_id=cohort.id,
        author_id=actor.member_id,
        title=title.strip(),
        description=description.strip(),
        tags=_clean_tags(tags),
        license=license,
        filename=name,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        source=source,
    )
    session.add(artifact)
    session.flush()
    record(session, cohort.id, actor.member_id, "artifact.share", artifact, size=len(content))
    return artifact


def artifact_dict(artifact: Artifact, reuses: int = 0) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "title": artifact.title,
        "description_html": render_markdown(artifact.description),
        "tags": list(artifact.tags),
        "license": artifact.license,
        "filename": artifact.filename,
        "size": artifact.size,
        "sha256": artifact.sha256,
        "author": member_dict(artifact.author),
        "created_at": artifact.created_at.isoformat(),
        "reuses": reuses,
    }


def get_artifact(session: Session, actor: Actor, artifact_id: int) -> Artifact:
    artifact = session.get(Artifact, artifact_id)
    if artifact is None or (not actor.is_system and artifact.cohort_id != actor.cohort_id):
        raise NotFound(f"no artifact {artifact_id}", field="artifact_id")
    require(actor, "artifact.read", artifact.cohort_id)
    return artifact


def list_artifacts(
    session: Session, actor: Actor, cohort: Cohort, *, tag: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The library, newest first, each with its reuse count."""
    require(actor, "artifact.read", cohort.id)
    reuses = (
        select(ArtifactReuse.artifact_id, func.count().label("n"))
        .group_by(ArtifactReuse.artifact_id)
        .subquery()
    )
    query = (
        select(Artifact, func.coalesce(reuses.c.n, 0))
        .options(joinedload(Artifact.author))
        .outerjoin(reuses, reuses.c.artifact_id == Artifact.id)
        .where(Artifact.cohort_id == cohort.id)
        .order_by(Artifact.id.desc())
        .limit(limit)
    )
    rows = session.execute(query).all()
    out = [artifact_dict(a, n) for a, n in rows]
    return [a for a in out if tag in a["tags"]] if tag else out


def copy_artifact(session: Session, actor: Actor, artifact_id: int) -> Artifact:
    """Hand out a copy; the first copy by anyone but the author counts as a reuse (one per
    member: taking five copies is not five reuses)."""
    artifact = get_artifact(session, actor, artifact_id)
    if actor.member_id is None or actor.member_id == artifact.author_id:
        return artifact
    reuse = {"artifact_id": artifact.id, "member_id": actor.member_id, "created_at": utcnow()}
    if insert_if_absent(session, _REUSE, reuse):
        record(
            session,
            artifact.cohort_id,
            actor.member_id,
            "artifact.reuse",
            artifact,
            author=artifact.author_id,
        )
    return artifact


_REUSE = cast(Table, ArtifactReuse.__table__)
