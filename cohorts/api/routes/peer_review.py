"""Peer review as members take part: the inbox, the rubric form, packets, feedback on
feedback and publishing a reviewed artifact. Rounds are opened and closed from the CLI."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import Helpfulness, Publish, ReviewDraft
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, NAME, PREFIX
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services import reviews
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.review_packets import packet_files

__all__ = ["ROUTES"]


class ReviewInboxHandler(ApiHandler):
    async def get(self, assignment: str) -> None:
        await self.run(lambda s, a, c: reviews.review_inbox(s, a, c, assignment))


class ReviewAllocationHandler(ApiHandler):
    """PUT saves the reviewer's draft, or submits it (``submit: true``)."""

    async def put(self, assignment: str, raw_id: str) -> None:
        allocation_id = path_id(raw_id, "review", "allocation_id")
        data = self.body(ReviewDraft)

        def save(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            return reviews.save_review(
                s,
                actor,
                cohort,
                allocation_id,
                assignment=assignment,
                scores=data.scores,
                comments=data.comments,
                overall_comment=data.overall_comment,
                submit=data.submit,
            )

        await self.run(save, write=True)


class ReviewPacketHandler(ApiHandler):
    async def get(self, assignment: str, raw_id: str) -> None:
        allocation_id = path_id(raw_id, "packet", "allocation_id")
        blobs = self.ctx.exchange_blobs

        def packet(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            files = packet_files(
                s, actor, cohort, allocation_id, assignment=assignment, blobs=blobs
            )
            return {
                "files": {
                    rel: base64.b64encode(data).decode("ascii") for rel, data in files.items()
                }
            }

        await self.run(packet)


class ReviewHelpfulnessHandler(ApiHandler):
    async def put(self, assignment: str, raw_id: str) -> None:
        review_id = path_id(raw_id, "review", "review_id")
        data = self.body(Helpfulness)
        await self.run(
            lambda s, a, c: reviews.rate_review(
                s, a, c, review_id, data.helpfulness, assignment=assignment
            ),
            write=True,
        )


class ReviewPublishHandler(ApiHandler):
    async def post(self, assignment: str) -> None:
        data, rules = self.body(Publish), self.ctx.rules

        def publish(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            return reviews.publish_reviewed(
                s,
                actor,
                cohort,
                assignment,
                consent=data.consent,
                title=data.title,
                description=data.description,
                tags=data.tags,
                license=data.license,
                rules=rules,
            )

        await self.run(publish, write=True, status=201)


ROUTES = [
    (rf"{PREFIX}/reviews/{NAME}", ReviewInboxHandler),
    (rf"{PREFIX}/reviews/{NAME}/allocations/{ID}", ReviewAllocationHandler),
    (rf"{PREFIX}/reviews/{NAME}/allocations/{ID}/packet", ReviewPacketHandler),
    (rf"{PREFIX}/reviews/{NAME}/reviews/{ID}/helpfulness", ReviewHelpfulnessHandler),
    (rf"{PREFIX}/reviews/{NAME}/publish", ReviewPublishHandler),
]
