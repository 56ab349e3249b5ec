"""The client's calls for ideas, pilots and leader nudges (#16 parts 3, 4), mixed into
:class:`~nbcohort.cohorts.client.CohortClient` like ``client_calls.py``'s."""

from __future__ import annotations

from typing import Any

from nbcohort.cohorts.client_calls import _Requests

__all__ = ["IdeaCalls"]


class IdeaCalls(_Requests):
    """Mark and endorse ideas, decide on them (staff), follow pilots, read leader nudges."""

    def mark_idea(self, post_id: int) -> dict[str, Any]:
        """Mark a post as an idea (your own; champions and staff: anyone's)."""
        return self.request("PUT", f"/api/v1/posts/{int(post_id)}/idea")["idea"]

    def ideas(self, *, anchor: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """The cohort's ideas (in the thread at ``anchor``; in one ``state``: open,
        escalated, piloted, declined), each with its endorsements."""
        params = {k: v for k, v in {"anchor": anchor, "state": state}.items() if v}
        return self.request("GET", "/api/v1/ideas", params=params)["ideas"]

    def endorse(self, idea_id: int) -> dict[str, Any]:
        """Endorse an idea (once; not your own)."""
        return self.request("PUT", f"/api/v1/ideas/{int(idea_id)}/endorsement")["idea"]

    def decline_idea(self, idea_id: int, reason: str) -> dict[str, Any]:
        body = {"reason": reason}
        return self.request("POST", f"/api/v1/ideas/{int(idea_id)}/decline", json=body)["idea"]

    def make_pilot(
        self,
        idea_id: int,
        *,
        owner_id: int | None,
        goal: str,
        measure: str,
        review_on: str,
        title: str = "",
    ) -> dict[str, Any]:
        """Turn an idea into a pilot (staff); ``review_on`` is YYYY-MM-DD."""
        body = {
            "owner_id": owner_id,
            "goal": goal,
            "measure": measure,
            "review_on": review_on,
            "title": title,
        }
        return self.request("POST", f"/api/v1/ideas/{int(idea_id)}/pilot", json=body)["pilot"]

    def pilots(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        return self.request("GET", "/api/v1/pilots", params=params)["pilots"]

    def pilot(self, pilot_id: int) -> dict[str, Any]:
        """One pilot with its status updates."""
        return self.request("GET", f"/api/v1/pilots/{int(pilot_id)}")["pilot"]

    def update_pilot(
        self, pilot_id: int, note: str, *, status: str = "active", outcome: str = ""
    ) -> dict[str, Any]:
        body = {"note": note, "status": status, "outcome": outcome}
        return self.request("POST", f"/api/v1/pilots/{int(pilot_id)}/updates", json=body)["pilot"]

    def nudges(self) -> dict[str, Any]:
        """A sponsor's leader nudges: unanswered questions, ideas near the threshold,
        pilots due for review."""
        return self.request("GET", "/api/v1/nudges")
