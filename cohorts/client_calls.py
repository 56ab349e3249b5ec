"""The client's calls for peer review and for the cohort's rhythm, mixed into
:class:`~nbcohort.cohorts.client.CohortClient` (which holds the connection and ``request``)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

__all__ = ["ReviewCalls", "RhythmCalls", "described"]


def described(
    title: str, description: str, tags: list[str] | None, license: str | None
) -> dict[str, Any]:
    """What the library shows of an artifact (None: the cohort's first license)."""
    return {"title": title, "description": description, "tags": tags or [], "license": license}


class _Requests:
    """What the calls need of the client: its address and one request to the service."""

    url: str

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError


class ReviewCalls(_Requests):
    """Peer review as a member takes part: inbox, reviews, packets, ratings, publishing."""

    def review_inbox(self, assignment: str) -> dict[str, Any]:
        """The member's review inbox for ``assignment`` and, as an author, their own result."""
        return self.request("GET", f"/api/v1/reviews/{quote(assignment, safe='')}")

    def save_review(
        self,
        assignment: str,
        allocation_id: int,
        scores: dict[str, float],
        comments: dict[str, str] | None = None,
        overall_comment: str = "",
        *,
        submit: bool = False,
    ) -> dict[str, Any]:
        """Save a draft review, or submit it (a submitted review stays editable until due)."""
        path = f"/api/v1/reviews/{quote(assignment, safe='')}/allocations/{allocation_id}"
        payload = {
            "scores": scores,
            "comments": comments or {},
            "overall_comment": overall_comment,
            "submit": submit,
        }
        return self.request("PUT", path, json=payload)

    def review_packet(self, assignment: str, allocation_id: int) -> dict[str, bytes]:
        """The files of a packet assigned to you: relative path -> content."""
        path = f"/api/v1/reviews/{quote(assignment, safe='')}/allocations/{allocation_id}/packet"
        files = self.request("GET", path)["files"]
        return {rel: base64.b64decode(data) for rel, data in files.items()}

    def rate_review(self, assignment: str, review_id: int, helpfulness: int) -> dict[str, Any]:
        """Rate a review of your work from 1 to 5 (feedback on feedback)."""
        path = f"/api/v1/reviews/{quote(assignment, safe='')}/reviews/{review_id}/helpfulness"
        return self.request("PUT", path, json={"helpfulness": helpfulness})

    def publish_reviewed(
        self,
        assignment: str,
        *,
        consent: bool,
        title: str,
        description: str = "",
        tags: list[str] | None = None,
        license: str | None = None,
    ) -> dict[str, Any]:
        """Publish your reviewed notebook to the library once the round has closed."""
        payload = {"consent": consent, **described(title, description, tags, license)}
        return self.request(
            "POST", f"/api/v1/reviews/{quote(assignment, safe='')}/publish", json=payload
        )


class RhythmCalls(_Requests):
    """The cohort's rhythm: charter, onboarding, events, cadence, live watch, pulse survey."""

    def charter(self) -> dict[str, Any]:
        """The current charter, your acknowledgement, and what changed since it."""
        return self.request("GET", "/api/v1/charter")

    def ack_charter(self, version: int) -> dict[str, Any]:
        return self.request("POST", "/api/v1/charter/ack", json={"version": version})

    def onboarding(self) -> dict[str, Any]:
        """Your onboarding steps (done, to do, upcoming) and what to do next."""
        return self.request("GET", "/api/v1/onboarding")

    def onboarding_done(self, step: str) -> dict[str, Any]:
        return self.request("PUT", f"/api/v1/onboarding/{quote(step, safe='')}/done")

    def events(self, days: int | None = None) -> list[dict[str, Any]]:
        """Clinics, routines and deadlines coming up, in your time zone."""
        params = {"days": days} if days else {}
        return self.request("GET", "/api/v1/events", params=params)["events"]

    def signup(self, event_id: int, join: bool = True) -> dict[str, Any]:
        """Sign up for a clinic (``join=False``: take it back)."""
        return self.request("PUT" if join else "DELETE", f"/api/v1/events/{event_id}/signup")

    def cadence(self, days: int | None = None) -> dict[str, Any]:
        """What the rhythm published today and plans next, in your time zone."""
        params = {"days": days} if days else {}
        return self.request("GET", "/api/v1/cadence", params=params)

    def watch(
        self, threads: dict[str, int], notifications: str | None = None, wait: float = 25.0
    ) -> dict[str, Any]:
        """Wait up to ``wait`` s for a thread version or the notifications mark to differ from
        the ones given: ``{"changed": bool, "threads": {...}, "notifications": mark}``. Give
        this client a timeout longer than ``wait``."""
        body: dict[str, Any] = {"threads": threads, "wait": wait}
        if notifications is not None:
            body["notifications"] = notifications
        return self.request("POST", "/api/v1/watch", json=body)

    def calendar_url(self) -> str:
        """Your own calendar feed, to subscribe to from a calendar application."""
        return self.url + self.request("GET", "/api/v1/calendar")["path"]

    def new_calendar_url(self) -> str:
        """A new link for your calendar feed (if the old one leaked): the old one stops
        working, so calendars subscribed to it need the new one."""
        return self.url + self.request("POST", "/api/v1/me/calendar/rotate")["path"]

    def pulse(self) -> dict[str, Any]:
        """The pulse survey open now (``survey`` None when none is), and whether you answered."""
        return self.request("GET", "/api/v1/pulse")

    def answer_pulse(self, survey_id: int, scores: list[int], text: str = "") -> dict[str, Any]:
        return self.request(
            "POST", f"/api/v1/pulse/{survey_id}/answers", json={"scores": scores, "text": text}
        )

    def pulse_results(self) -> dict[str, Any]:
        """The cohort's pulse results over time, as you may see them."""
        return self.request("GET", "/api/v1/pulse/results")
