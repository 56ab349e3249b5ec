"""Hub identity: every request's token is checked with the JupyterHub that runs the service
(``c.ServiceSettings.auth = "hub"``), through ``jupyterhub.services.auth.HubAuth``.

The token comes from the ``Authorization`` header only (never ``?token=``: a token in a URL
ends up in logs and browser history; the signed links of ``signing.py`` are the one kind of
link that works without a header, and they carry no token). The hub says whose token it is
and whether it may reach this service (``access:services!service=<name>``); the services layer
says who that is here (``services/hub_identity.py``). Answers, refusals included, are kept
for ``ServiceSettings.auth_cache_seconds`` (``ttl_cache.py``), so a revoked hub token or a
user taken out of a group is refused within that time. A hub that cannot be asked is a 503.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyterhub.services.auth import HubAuth, check_scopes
from tornado.web import HTTPError

from nbcohort.cohorts.api.answers import Refusal
from nbcohort.cohorts.api.tokens import token_from_header
from nbcohort.cohorts.api.ttl_cache import TtlCache
from nbcohort.cohorts.config_hub import HubSettings
from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services.auth import Actor, token_digest
from nbcohort.cohorts.services.errors import Conflict, Forbidden, ServiceError, Unauthorized
from nbcohort.cohorts.services.hub_identity import hub_actor, roster_member
from nbcohort.cohorts.store import Store

__all__ = ["HubTokenAuth", "hub_unavailable"]

log = logging.getLogger("nbcohort.service")


def hub_unavailable() -> Refusal:
    """The one answer for a hub that cannot be asked who is calling."""
    return Refusal(
        503,
        "hub_unavailable",
        "the hub cannot be reached to check who you are; nothing was done, try again shortly",
        retry_after=5,
    )


class HubTokenAuth:
    """Authenticator (``tokens.py``) whose tokens are the hub's."""

    checks_locally = False  # each new token is a request to the hub

    def __init__(
        self,
        store: Store,
        settings: HubSettings,
        cache_seconds: float = 10.0,
        *,
        max_entries: int = 10_000,
        remember_seconds: float = 86_400.0,
    ) -> None:
        if not settings.api_url:
            raise ValueError(
                "auth = 'hub' needs the hub's API: set c.HubSettings.api_url or run the "
                "service where JUPYTERHUB_API_URL is set"
            )
        self.store, self.settings = store, settings
        self.scope = settings.access_scope()
        # HubAuth's own cache is off (cache_max_age=0): ours also keeps refusals and the roster.
        self.hub = HubAuth(
            api_url=settings.api_url,
            api_token=settings.api_token,
            access_scopes={self.scope},
            cache_max_age=0,
        )
        self._answers: TtlCache[Actor | ServiceError] = TtlCache(cache_seconds, max_entries)
        # The hub's answer per token, whatever cohort a request names: a caller changing the
        # X-Nbcohort-Cohort header on every request costs a roster lookup, never a hub request.
        self._models: TtlCache[tuple[Any]] = TtlCache(cache_seconds, max_entries)  # (model,)
        self._known: TtlCache[bool] = TtlCache(remember_seconds, max_entries)
        self._logged: TtlCache[bool] = TtlCache(remember_seconds, max_entries)

    async def authenticate(self, authorization: str | None, cohort: str | None = None) -> Actor:
        token = token_from_header(authorization)
        if token is None:
            raise Unauthorized("a hub token is required (Authorization: token <token>)")
        key = token_digest(token)
        answer_key = f"{key}\0{cohort or ''}"  # one token, several cohorts: one answer each
        hit = self._answers.get(answer_key)
        if hit is None:
            hit = await self._identify(token, key, cohort or None)
            self._answers.put(answer_key, hit)
        if isinstance(hit, ServiceError):
            raise hit.with_traceback(None)  # kept for a while: its traceback must not grow
        self._known.put(key, True)
        return hit

    def recognizes(self, authorization: str | None) -> bool:
        token = token_from_header(authorization)
        return token is not None and self._known.get(token_digest(token)) is not None

    def forget_member(self, member_id: int) -> None:
        """Stop trusting ``member_id`` at once (they left through this service)."""
        self._answers.drop_where(lambda a: isinstance(a, Actor) and a.member_id == member_id)

    async def _identify(self, token: str, key: str, cohort: str | None) -> Actor | ServiceError:
        """Ask the hub, then the roster. Refusals a member can act on are returned (and kept
        in the cache); a hub that cannot be asked raises (and is asked again next time)."""
        kept = self._models.get(key)
        if kept is None:
            model = await self._hub_call(
                self.hub.user_for_token(token, use_cache=False, sync=False)
            )
            self._models.put(key, (model,))
        else:
            (model,) = kept
        if model is None:
            return Unauthorized("the hub does not accept this token (revoked or expired?)")
        if model.get("kind", "user") != "user":
            return Forbidden("a hub service's token does not speak for a member; use a user's")
        if not check_scopes({self.scope}, set(model.get("scopes") or ())):
            return Forbidden(f"this hub token may not reach the community (needs {self.scope})")
        username = str(model.get("name", ""))
        try:
            member: Member = self.store.run(self._roster, username, cohort)
            confirming = self.settings.groups_for(member.role)
            # Every hub token may read its own user's name and groups (the hub's "identify"
            # scopes), so the answer carries them: no second request, no scope to grant.
            return hub_actor(member, model.get("groups") or (), confirming)
        except (Forbidden, Conflict) as exc:
            self._log_once(username, exc)
            return exc

    def _roster(self, username: str, cohort: str | None) -> Member:
        with self.store.read() as session:
            return roster_member(session, username, cohort)

    @staticmethod
    async def _hub_call(call: Any) -> Any:
        try:
            return await call
        except HTTPError as exc:  # HubAuth's way of saying the hub could not answer
            log.warning("hub identity: %s", exc.log_message or exc)
            raise hub_unavailable() from None

    def _log_once(self, username: str, exc: ServiceError) -> None:
        key = f"{username}\0{exc.code}"
        if self._logged.get(key) is None:
            self._logged.put(key, True)
            log.warning("hub user %r refused: %s", username, exc.message)
