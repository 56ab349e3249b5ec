"""The artifact library: what members shared, and copies of it (a copy by someone other than
the author counts as one reuse per member)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import NewArtifact, TagQuery
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services import artifacts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Invalid

__all__ = ["ROUTES"]


def _artifact_id(raw: str) -> int:
    return path_id(raw, "artifact", "artifact_id")


class ArtifactsHandler(ApiHandler):
    async def get(self) -> None:
        tag = self.query(TagQuery).tag
        await self.run(lambda s, a, c: {"artifacts": artifacts.list_artifacts(s, a, c, tag=tag)})

    async def post(self) -> None:
        data, rules = self.body(NewArtifact), self.ctx.rules
        try:
            content = base64.b64decode(data.content_b64, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("content_b64 is not valid base64", field="content_b64") from None

        def share(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            artifact = artifacts.share_artifact(
                s,
                actor,
                cohort,
                filename=data.filename,
                content=content,
                title=data.title,
                description=data.description,
                tags=data.tags,
                license=data.license,
                rules=rules,
            )
            return artifacts.artifact_dict(artifact)

        await self.run(share, write=True, status=201)


class ArtifactHandler(ApiHandler):
    async def get(self, raw_id: str) -> None:
        artifact_id = _artifact_id(raw_id)
        await self.run(
            lambda s, a, c: artifacts.artifact_dict(artifacts.get_artifact(s, a, artifact_id))
        )


class ArtifactCopyHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        artifact_id = _artifact_id(raw_id)

        def copy(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            artifact = artifacts.copy_artifact(s, actor, artifact_id)
            return {
                "filename": artifact.filename,
                "sha256": artifact.sha256,
                "content_b64": base64.b64encode(artifact.content).decode("ascii"),
            }

        await self.run(copy, write=True)


ROUTES = [
    (rf"{PREFIX}/artifacts", ArtifactsHandler),
    (rf"{PREFIX}/artifacts/{ID}", ArtifactHandler),
    (rf"{PREFIX}/artifacts/{ID}/copies", ArtifactCopyHandler),
]
