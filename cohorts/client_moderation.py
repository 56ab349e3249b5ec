"""The client's calls for moderation, mixed into :class:`~nbcohort.cohorts.client.CohortClient`:
the queue (champions and staff), approving or rejecting a held post, one's own moderation
status (the code of conduct, held posts, appeals), appeals filed and decided."""

from __future__ import annotations

from typing import Any

from nbcohort.cohorts.client_calls import _Requests

__all__ = ["ModerationCalls"]


class ModerationCalls(_Requests):
    def moderation_queue(self) -> dict[str, Any]:
        """Held posts, flagged or hidden posts and open appeals (champions and staff)."""
        return self.request("GET", "/api/v1/moderation")

    def my_moderation(self) -> dict[str, Any]:
        """The code of conduct, my standing as a new member, my held posts, my appeals."""
        return self.request("GET", "/api/v1/moderation/mine")

    def approve_held(self, held_id: int) -> dict[str, Any]:
        """Publish a held post; answers with the post."""
        return self.request("POST", f"/api/v1/moderation/held/{int(held_id)}/approve")["post"]

    def reject_held(self, held_id: int, reason: str) -> dict[str, Any]:
        """Turn a held post down with a reason its author reads."""
        path = f"/api/v1/moderation/held/{int(held_id)}/reject"
        return self.request("POST", path, json={"reason": reason})["held"]

    def appeal(
        self, text: str, *, post_id: int | None = None, held_id: int | None = None
    ) -> dict[str, Any]:
        """Appeal, once, a decision about my post (``post_id``) or held post (``held_id``)."""
        body: dict[str, Any] = {"text": text, "post_id": post_id, "held_id": held_id}
        return self.request("POST", "/api/v1/appeals", json=body)["appeal"]

    def decide_appeal(self, appeal_id: int, decision: str, reason: str) -> dict[str, Any]:
        """``grant`` (the post comes back) or ``deny`` an appeal, with a reason (staff)."""
        path = f"/api/v1/appeals/{int(appeal_id)}/decision"
        return self.request("POST", path, json={"decision": decision, "reason": reason})["appeal"]
