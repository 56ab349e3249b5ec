"""HTTP handlers for peer review as members take part: the inbox, the rubric form, packets,
feedback on feedback and publishing a reviewed artifact. Thin JSON over services.reviews."""

from __future__ import annotations

import base64
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.orm import Session
from tornado.web import RequestHandler

from nbcohort.cohorts.api.handlers import ApiHandler
from nbcohort.cohorts.models import Allocation, Cohort, Review
from nbcohort.cohorts.services import reviews
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.review_rounds import find_round

__all__ = ["ROUTES"]


def _in_round(s: Session, actor: Actor, cohort: Cohort, assignment: str, allocation_id: int) -> int:
    """The allocation id when it belongs to ``assignment``'s round; the URL names both, so a
    mismatch is answered like any allocation that is not yours (404)."""
    rnd = find_round(s, actor, cohort, assignment)
    alloc = s.get(Allocation, allocation_id)
    if alloc is None or alloc.round_id != rnd.id:
        raise NotFound(f"no review {allocation_id} assigned to you", field="allocation_id")
    return allocation_id


class ReviewInboxHandler(ApiHandler):
    def get(self, assignment: str) -> Awaitable[None]:
        return self.run(lambda s, a, c: reviews.review_inbox(s, a, c, assignment), write=False)


class ReviewAllocationHandler(ApiHandler):
    """PUT saves the reviewer's draft, or submits it (``submit: true``)."""

    def put(self, assignment: str, allocation_id: str) -> Awaitable[None]:
        data = self.body_json()

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            aid = _in_round(s, actor, cohort, assignment, int(allocation_id))
            return reviews.save_review(
                s, actor, cohort, aid, scores=data.get("scores", {}),
                comments=data.get("comments"), overall_comment=data.get("overall_comment", ""),
                submit=data.get("submit") is True,
            )  # fmt: skip

        return self.run(fn, write=True)


class ReviewPacketHandler(ApiHandler):
    def get(self, assignment: str, allocation_id: str) -> Awaitable[None]:
        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            aid = _in_round(s, actor, cohort, assignment, int(allocation_id))
            files = reviews.packet_files(s, actor, cohort, aid)
            return {"files": {rel: base64.b64encode(data).decode("ascii")
                              for rel, data in files.items()}}  # fmt: skip

        return self.run(fn, write=False)


class ReviewHelpfulnessHandler(ApiHandler):
    def put(self, assignment: str, review_id: str) -> Awaitable[None]:
        data = self.body_json()

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            rnd = find_round(s, actor, cohort, assignment)
            review = s.get(Review, int(review_id))
            alloc = s.get(Allocation, review.allocation_id) if review else None
            if alloc is None or alloc.round_id != rnd.id:
                raise NotFound(f"no review {review_id} of your work", field="review_id")
            return reviews.rate_review(s, actor, cohort, int(review_id), data.get("helpfulness"))

        return self.run(fn, write=True)


class ReviewPublishHandler(ApiHandler):
    def post(self, assignment: str) -> Awaitable[None]:
        data, rules = self.body_json(), self.ctx.rules

        def fn(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            return reviews.publish_reviewed(
                s, actor, cohort, assignment, consent=data.get("consent") is True,
                title=data.get("title"), description=data.get("description", ""),
                tags=data.get("tags"), license=data.get("license", "CC-BY-4.0"), rules=rules,
            )  # fmt: skip

        return self.run(fn, write=True, status=201)


_ID = r"([0-9]{1,18})"
_ASSIGNMENT = r"([^/]{1,100})"
ROUTES: list[tuple[str, type[RequestHandler]]] = [
    (rf"/api/v1/reviews/{_ASSIGNMENT}", ReviewInboxHandler),
    (rf"/api/v1/reviews/{_ASSIGNMENT}/allocations/{_ID}", ReviewAllocationHandler),
    (rf"/api/v1/reviews/{_ASSIGNMENT}/allocations/{_ID}/packet", ReviewPacketHandler),
    (rf"/api/v1/reviews/{_ASSIGNMENT}/reviews/{_ID}/helpfulness", ReviewHelpfulnessHandler),
    (rf"/api/v1/reviews/{_ASSIGNMENT}/publish", ReviewPublishHandler),
]
