"""The client's calls for the community of practice after graduation, mixed into
:class:`~nbcohort.cohorts.client.CohortClient` (which holds the connection and ``request``)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

__all__ = ["CommunityCalls"]


class CommunityCalls:
    """The community a graduated cohort belongs to: its cohorts, topics, course threads."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def community(self) -> dict[str, Any]:
        """The community the member's cohort graduated into, and its cohorts."""
        return self.request("GET", "/api/v1/community")

    def topics(self) -> list[dict[str, Any]]:
        """The community's topics, most recently active first, each with its cohort."""
        return self.request("GET", "/api/v1/community/topics")["topics"]

    def start_topic(self, name: str, title: str, body: str) -> dict[str, Any]:
        """Start a community topic ``topic/<name>`` with its first post."""
        payload = {"name": name, "title": title, "body": body}
        return self.request("POST", "/api/v1/community/topics", json=payload)

    def topic(
        self, name: str, *, before: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """A page of a community topic."""
        params = {k: v for k, v in {"before": before, "limit": limit}.items() if v is not None}
        path = f"/api/v1/community/topics/{quote(name, safe='')}"
        return self.request("GET", path, params=params)

    def post_in_topic(
        self, name: str, body: str, *, parent_id: int | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """Post, or reply to ``parent_id``, in a community topic."""
        path = f"/api/v1/community/topics/{quote(name, safe='')}/posts"
        payload = {"body": body, "parent_id": parent_id, "request_key": key}
        return self.request("POST", path, json=payload)

    def course_threads(self, cohort: str) -> list[dict[str, Any]]:
        """The course threads of a cohort in the community (read-only when not one's own)."""
        params = {"cohort": cohort}
        return self.request("GET", "/api/v1/community/threads", params=params)["threads"]

    def course_thread(
        self, cohort: str, anchor: str, *, before: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """A page of a course thread of a cohort in the community."""
        params: dict[str, Any] = {"cohort": cohort, "anchor": anchor}
        params.update({k: v for k, v in {"before": before, "limit": limit}.items() if v})
        return self.request("GET", "/api/v1/community/threads", params=params)

    def community_artifacts(
        self, q: str | None = None, tag: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The community's shared library (every graduated cohort's artifacts), newest first."""
        params = {k: v for k, v in {"q": q, "tag": tag, "limit": limit}.items() if v}
        return self.request("GET", "/api/v1/community/artifacts", params=params)["artifacts"]

    def community_events(self, days: int | None = None) -> list[dict[str, Any]]:
        """The clinics and events of every cohort in the community, in your time zone."""
        params = {"days": days} if days else {}
        return self.request("GET", "/api/v1/community/events", params=params)["events"]

    def community_members(
        self, q: str | None = None, *, skill: str | None = None, page: int = 1, per_page: int = 50
    ) -> dict[str, Any]:
        """A page of the community's member directory, searched by name or team, and found
        by one ``skill``."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if q:
            params["q"] = q
        if skill:
            params["skill"] = skill
        return self.request("GET", "/api/v1/community/members", params=params)

    def copy_community_artifact(self, artifact_id: int) -> dict[str, Any]:
        """A copy of an artifact from the community's library (any cohort of it), with whom
        and where it comes from; ``content`` holds the file's bytes. Counted as one reuse,
        credited to its author and cohort, when you are not its author."""
        data = self.request("POST", f"/api/v1/community/artifacts/{int(artifact_id)}/copies")
        content = base64.b64decode(data.pop("content_b64"))
        return {**data, "content": content}

    def set_directory_opt_in(self, listed: bool) -> dict[str, Any]:
        """Whether the community's member directory lists me (off until I choose)."""
        body = {"directory_opt_in": listed}
        return self.request("PUT", "/api/v1/me/directory", json=body)["member"]

    def set_directory_skills(self, skills: list[str]) -> dict[str, Any]:
        """The skills the directory shows of me while I am listed (all at once; [] clears)."""
        body = {"skills": skills}
        return self.request("PUT", "/api/v1/me/directory/skills", json=body)["member"]

    def graduate(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Graduate the member's cohort (instructors): what changed, or would change."""
        return self.request("POST", "/api/v1/cohort/graduate", json={"dry_run": dry_run})
