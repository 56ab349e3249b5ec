"""The client that widgets and pages use; it speaks only to the community service.

It never raises into a notebook for a service that is down: callers get
:class:`ServiceUnavailable` within ``ClientSettings.timeout`` seconds and show one calm line.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from traitlets.config import Config
from urllib3.util.retry import Retry

from nbcohort.cohorts.client_calls import ReviewCalls, RhythmCalls, described
from nbcohort.cohorts.client_community import CommunityCalls
from nbcohort.cohorts.client_ideas import IdeaCalls
from nbcohort.cohorts.client_moderation import ModerationCalls
from nbcohort.cohorts.config import ClientSettings, HubSettings, ServiceSettings, load_config
from nbcohort.cohorts.config_hub import COHORT_HEADER

__all__ = ["ClientError", "CohortClient", "ServiceUnavailable"]


def _refusal(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


class ClientError(Exception):
    """The service refused a request; ``status`` and ``field`` say why."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class ServiceUnavailable(ClientError):
    """The service could not be reached in time (community offline)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


def _token_from_env(hub_mode: bool) -> str:
    """``NBCOHORT_TOKEN`` (a local token), else, in hub mode or in a kernel a hub started (its
    environment names the hub's API), the user's own ``JUPYTERHUB_API_TOKEN``."""
    token = os.environ.get("NBCOHORT_TOKEN", "")
    under_hub = hub_mode or any(
        os.environ.get(name) for name in ("JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_PREFIX")
    )
    if not token and under_hub:
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    return token


class CohortClient(ReviewCalls, RhythmCalls, ModerationCalls, CommunityCalls, IdeaCalls):
    """A member's connection to the community service: the token is ``NBCOHORT_TOKEN``, or
    under JupyterHub the user's own ``JUPYTERHUB_API_TOKEN`` (nothing to mint or place)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        config: Config | None = None,
        cohort: str | None = None,
    ) -> None:
        cfg = config if config is not None else load_config()
        settings = ClientSettings(config=cfg)
        if not url:
            url = os.environ.get("NBCOHORT_URL") or settings.url
        service = ServiceSettings(config=cfg)
        if not url:
            url = f"http://{service.ip}:{service.port}"
            if service.auth == "hub":  # the hub's proxy keeps the path: so does the service
                url += "/" + HubSettings(config=cfg).prefix.strip("/")
        self.url = url.rstrip("/")
        self.token = token if token is not None else _token_from_env(service.auth == "hub")
        self.timeout = timeout if timeout is not None else settings.timeout
        self.cohort = cohort if cohort is not None else settings.cohort
        self._http = requests.Session()
        retries = settings.retries if retries is None else retries
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=0,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=0.05,
            raise_on_status=False,
        )
        self._http.mount("http://", HTTPAdapter(max_retries=retry))
        self._http.mount("https://", HTTPAdapter(max_retries=retry))

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        if self.cohort:  # a hub user on several rosters says which cohort they act in
            headers[COHORT_HEADER] = self.cohort
        return headers

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the service; raise ClientError for a refusal, ServiceUnavailable when down."""
        resp, data = self._send(method, path, kwargs)
        if resp.status_code >= 400:
            why = _refusal(data)
            raise ClientError(resp.status_code, why.get("message", resp.reason), why.get("field"))
        return data

    def _send(
        self, method: str, path: str, kwargs: dict[str, Any]
    ) -> tuple[requests.Response, Any]:
        try:
            resp = self._http.request(
                method, self.url + path, headers=self._headers(), timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"community service at {self.url} unreachable: {exc}"
            ) from None
        try:
            return resp, resp.json()
        except ValueError:
            return resp, {"message": resp.text[:200] or resp.reason}

    # -- the API, one method per endpoint ---------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/health")

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/me")

    def members(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/v1/members")["members"]

    def thread(
        self,
        anchor: str,
        *,
        before: int | None = None,
        limit: int | None = None,
        unread: bool = False,
    ) -> Any:
        """A page of the thread at ``anchor``; with ``unread``, also how many posts by others
        the member has not read (``page["unread"]``)."""
        params: dict[str, Any] = {"anchor": anchor}
        if before is not None:
            params["before"] = before
        if limit is not None:
            params["limit"] = limit
        if unread:
            params["unread"] = "1"
        return self.request("GET", "/api/v1/thread", params=params)

    def mark_read(self, anchor: str) -> int:
        return self.request("POST", "/api/v1/thread/read", json={"anchor": anchor})["last_post_id"]

    def post(
        self, anchor: str, body: str, *, parent_id: int | None = None, key: str | None = None
    ) -> dict[str, Any]:
        """Post, or reply to ``parent_id``. Sending again with the same ``key`` (any unique
        string, e.g. ``uuid4().hex``) after an error returns the post if it was written."""
        payload = {"anchor": anchor, "body": body, "parent_id": parent_id, "request_key": key}
        return self.request("POST", "/api/v1/posts", json=payload)

    def get_post(self, post_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/posts/{post_id}")

    def edit(self, post_id: int, body: str) -> dict[str, Any]:
        return self.request("PATCH", f"/api/v1/posts/{post_id}", json={"body": body})

    def delete(self, post_id: int, reason: str = "") -> dict[str, Any]:
        return self.request("DELETE", f"/api/v1/posts/{post_id}", json={"reason": reason})

    def react(self, post_id: int, kind: str) -> bool:
        path = f"/api/v1/posts/{post_id}/reactions/{quote(kind, safe='')}"
        return self.request("PUT", path)["added"]

    def unreact(self, post_id: int, kind: str) -> bool:
        path = f"/api/v1/posts/{post_id}/reactions/{quote(kind, safe='')}"
        return self.request("DELETE", path)["removed"]

    def flag(self, post_id: int, reason: str = "") -> dict[str, Any]:
        return self.request("POST", f"/api/v1/posts/{post_id}/flags", json={"reason": reason})

    def moderate(self, post_id: int, action: str, reason: str) -> dict[str, Any]:
        payload = {"action": action, "reason": reason}
        return self.request("POST", f"/api/v1/posts/{post_id}/moderation", json=payload)

    def preview(self, body: str, *, anchor: str | None = None) -> str:
        """``body`` as a post in the thread at ``anchor`` would show it; nothing is saved."""
        payload = {"body": body, **({"anchor": anchor} if anchor else {})}
        return self.request("POST", "/api/v1/preview", json=payload)["html"]

    def notifications(self, *, unread_only: bool = True) -> list[dict[str, Any]]:
        return self.notification_feed(unread_only=unread_only)["notifications"]

    def notification_feed(self, *, unread_only: bool = True, limit: int = 50) -> dict[str, Any]:
        """Notifications (newest first), unread counts by kind, and what today asks."""
        params: dict[str, Any] = {"limit": limit}
        if not unread_only:
            params["all"] = "1"
        return self.request("GET", "/api/v1/notifications", params=params)

    def mark_notifications_read(self, ids: list[int] | None = None) -> int:
        """Mark ``ids`` read, or every notification when no ids are given."""
        body = {"ids": ids} if ids is not None else {}
        return self.request("POST", "/api/v1/notifications/read", json=body)["marked"]

    def set_email_pref(self, pref: str) -> dict[str, Any]:
        """``all`` (every notification), ``digest`` (what I missed, now and then) or ``none``."""
        return self.request("PUT", "/api/v1/me/email", json={"email_pref": pref})["member"]

    def badges(self, member_ids: list[int] | None = None) -> dict[int, list[dict[str, Any]]]:
        """Member id -> the badges shown beside their name (all members, or ``member_ids``)."""
        params = {"members": ",".join(str(i) for i in member_ids)} if member_ids else {}
        got = self.request("GET", "/api/v1/badges", params=params)["badges"]
        return {int(k): v for k, v in got.items()}

    def member_badges(self, member_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/members/{int(member_id)}/badges")

    def set_recognition(
        self, *, badges_hidden: bool | None = None, champion_opt_out: bool | None = None
    ) -> dict[str, Any]:
        """Hide my badges from others; never suggest me as a champion (None: unchanged)."""
        body = {"badges_hidden": badges_hidden, "champion_opt_out": champion_opt_out}
        body = {k: v for k, v in body.items() if v is not None}
        return self.request("PUT", "/api/v1/me/recognition", json=body)["member"]

    def revoke_badge(self, member_id: int, badge: str, reason: str) -> dict[str, Any]:
        body = {"member_id": member_id, "badge": badge, "reason": reason}
        return self.request("POST", "/api/v1/badges/revoke", json=body)

    def suggest_champions(self, count: int = 12) -> list[dict[str, Any]]:
        got = self.request("GET", "/api/v1/champions/suggestions", params={"count": count})
        return got["suggestions"]

    def appoint_champion(self, member_id: int) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/members/{int(member_id)}/champion")["member"]

    def pin(self, post_id: int, pinned: bool = True) -> bool:
        got = self.request("PUT" if pinned else "DELETE", f"/api/v1/posts/{int(post_id)}/pin")
        return bool(got.get("pinned", got.get("unpinned")))

    def pins(self, anchor: str) -> list[int]:
        """The ids of the posts pinned in the thread at ``anchor``, oldest pin first."""
        return self.request("GET", "/api/v1/pins", params={"anchor": anchor})["pinned"]

    def welcome(self, post_id: int) -> bool:
        return self.request("POST", f"/api/v1/posts/{int(post_id)}/welcome")["welcomed"]

    def host_routine(self, key: str) -> dict[str, Any]:
        return self.request("POST", "/api/v1/routines/host", json={"key": key})

    def spotlight(self, week: str) -> dict[str, Any]:
        """The spotlight of the week starting Monday ``week`` (YYYY-MM-DD)."""
        return self.request("GET", "/api/v1/spotlight", params={"week": week})

    def edit_spotlight(self, week: str, member_ids: list[int], note: str = "") -> dict[str, Any]:
        body = {"week": week, "member_ids": member_ids, "note": note}
        return self.request("PUT", "/api/v1/spotlight", json=body)

    def prompt(self, key: str | None = None, *, before: int | None = None) -> dict[str, Any]:
        params = {"before": before} if before is not None else {}
        return self.request("GET", f"/api/v1/prompts/{quote(key or 'current')}", params=params)

    def answer_prompt(self, key: str, body: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/prompts/{quote(key)}/answer", json={"body": body})

    def practice(self, practice: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/practices/{quote(practice, safe='')}")

    def mark_applied(self, practice: str, note: str = "") -> dict[str, Any]:
        path = f"/api/v1/practices/{quote(practice, safe='')}"
        return self.request("PUT", path, json={"note": note})

    def artifacts(self, tag: str | None = None) -> list[dict[str, Any]]:
        params = {"tag": tag} if tag else {}
        return self.request("GET", "/api/v1/artifacts", params=params)["artifacts"]

    def share(
        self,
        filename: str,
        content: bytes,
        title: str,
        description: str = "",
        tags: list[str] | None = None,
        license: str | None = None,
    ) -> dict[str, Any]:
        payload = {
            "filename": filename,
            "content_b64": base64.b64encode(content).decode("ascii"),
            **described(title, description, tags, license),
        }
        return self.request("POST", "/api/v1/artifacts", json=payload)

    def copy_artifact(self, artifact_id: int) -> tuple[str, bytes]:
        """A copy of an artifact's file (counted as a reuse when you are not its author)."""
        data = self.request("POST", f"/api/v1/artifacts/{artifact_id}/copies")
        return data["filename"], base64.b64decode(data["content_b64"])

    def search(
        self, q: str, *, kind: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """Posts, threads and artifacts matching every word of ``q`` that you may see, each
        kind most relevant first, with snippets of safe HTML (matches in ``<mark>``).
        ``kind``: post, thread or artifact only."""
        params: dict[str, Any] = {"q": q}
        if kind is not None:
            params["kind"] = kind
        if limit is not None:
            params["limit"] = limit
        return self.request("GET", "/api/v1/search", params=params)

    def metrics(self, window: int | None = None) -> dict[str, Any]:
        """The cohort's metrics you may see over the last ``window`` days (whole weeks, 7 to
        364; default: the service's setting): each with its value, formula, window and weekly
        trend."""
        params = {"window": window} if window is not None else {}
        return self.request("GET", "/api/v1/metrics", params=params)

    def threads(self, days: int = 7, limit: int = 10) -> list[dict[str, Any]]:
        """Section and topic threads with posts in the last ``days``, busiest first, each
        with its link into the course notebook (when the course says where it is)."""
        params = {"days": days, "limit": limit}
        return self.request("GET", "/api/v1/threads", params=params)["threads"]

    def my_reviews(self) -> list[dict[str, Any]]:
        """Your progress in each peer-review round: reviews given to you and submitted."""
        return self.request("GET", "/api/v1/me/reviews")["rounds"]

    def dashboard(self, quiet_days: int = 7, unanswered_hours: int = 48) -> dict[str, Any]:
        """The facilitator dashboard's tables (staff only): members at risk (``quiet_days``:
        whole weeks, 7 to 91), unanswered questions, the moderation queue, reviews owed."""
        params = {"quiet_days": quiet_days, "unanswered_hours": unanswered_hours}
        return self.request("GET", "/api/v1/dashboard", params=params)

    def export_my_data(self, dest: str | os.PathLike[str], *, timeout: float = 120.0) -> int:
        """Download your own data as a ZIP into ``dest`` (written to a temporary file
        beside it, then renamed: never half-written); returns its size in bytes."""
        headers = self._headers()
        target = Path(dest)
        try:
            resp = self._http.get(
                self.url + "/api/v1/me/export", headers=headers, timeout=timeout, stream=True
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                f"community service at {self.url} unreachable: {exc}"
            ) from None
        with resp:
            if resp.status_code >= 400:
                try:
                    data = resp.json()
                except ValueError:
                    data = {"message": resp.reason}
                raise ClientError(resp.status_code, data.get("message", ""), data.get("field"))
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
            size = 0
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in resp.iter_content(256 * 1024):
                        out.write(chunk)
                        size += len(chunk)
                os.replace(tmp, target)
            except requests.RequestException as exc:
                Path(tmp).unlink(missing_ok=True)
                raise ServiceUnavailable(
                    f"the export broke off after {size} bytes ({type(exc).__name__}); "
                    f"{target} was not written: try again"
                ) from None
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return size

    def leave(self, reason: str = "") -> dict[str, Any]:
        """Leave the cohort (not undone): your tokens stop working, your name is gone."""
        return self.request("POST", "/api/v1/me/leave", json={"confirm": "leave", "reason": reason})
