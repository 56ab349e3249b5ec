"""Copying an artifact from the community's shared library: a member of any graduated cohort
of a community may take a copy of an artifact shared in any cohort of that community.

The copy counts as a reuse of the artifact (once per member, like a copy in one's own
cohort: ``artifacts.copy_artifact``), and the reuse is logged in the artifact's own cohort,
so its author and cohort are credited (reuse rate, "Reused" badges). An artifact of another
community, or one that does not exist, is the same 404: which artifacts exist elsewhere is
not told. The copy carries the artifact's file name as stored, already a bare name
(``artifacts.clean_filename``); the widget still saves it as a new file only, never through
a link (``widgets/_files.py``).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Artifact, ArtifactReuse, Cohort, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.community import community_cohorts
from nbcohort.cohorts.services.community_library import mark
from nbcohort.cohorts.services.errors import Invalid, NotFound
from nbcohort.cohorts.services.members import public_member
from nbcohort.cohorts.services.unique import insert_if_absent

__all__ = ["copy_community_artifact"]

_REUSE = cast(Table, ArtifactReuse.__table__)
_MAX_ID = 2**63 - 1


def copy_community_artifact(
    session: Session, actor: Actor, cohort: Cohort, artifact_id: object
) -> dict[str, Any]:
    """A copy of artifact ``artifact_id`` from ``cohort``'s community library: its file, and
    whom and where it comes from (title, licence, author, cohort) so the reuse can credit
    them. The first copy by anyone but the author counts as one reuse."""
    if (
        isinstance(artifact_id, bool)
        or not isinstance(artifact_id, int)
        or not 1 <= artifact_id <= _MAX_ID
    ):
        raise Invalid("artifact_id must be a positive whole number", field="artifact_id")
    cohorts = {c.id: c for c in community_cohorts(session, actor, cohort)}
    artifact = session.get(Artifact, artifact_id)
    if artifact is None or artifact.cohort_id not in cohorts:
        raise NotFound(f"no artifact {artifact_id} in this community", field="artifact_id")
    source = cohorts[artifact.cohort_id]
    if actor.member_id is not None and actor.member_id != artifact.author_id:
        reuse = {"artifact_id": artifact.id, "member_id": actor.member_id, "created_at": utcnow()}
        if insert_if_absent(session, _REUSE, reuse):
            record(
                session,
                artifact.cohort_id,  # credited where it was shared
                actor.member_id,
                "artifact.reuse",
                artifact,
                author=artifact.author_id,
                from_cohort=cohort.slug,
            )
    return {
        "id": artifact.id,
        "filename": artifact.filename,
        "sha256": artifact.sha256,
        "content": artifact.content,
        "title": artifact.title,
        "license": artifact.license,
        "author": public_member(artifact.author),
        "cohort": mark(source),
    }
