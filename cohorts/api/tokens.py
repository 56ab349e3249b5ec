"""How the service learns who is calling. Pluggable: local tokens now, JupyterHub later.

A request is authenticated before its body is read, in a unit of its own (only when the
token is not already trusted), so nothing a caller sends is parsed before we know who they are.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.auth import Actor, authenticate_token, token_digest
from nbcohort.cohorts.services.errors import Forbidden, Unauthorized
from nbcohort.cohorts.store import Store

__all__ = ["Authenticator", "LocalTokenAuth", "token_from_header"]


def token_from_header(value: str | None) -> str | None:
    """The token in ``Authorization: token X`` (or ``Bearer X``), else None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    return None


class Authenticator(Protocol):
    async def authenticate(self, authorization: str | None, cohort: str | None = None) -> Actor:
        """The actor behind a request's Authorization header, in the cohort the request names
        (``X-Nbcohort-Cohort``; None: the one the credential belongs to); raise Unauthorized
        otherwise, Forbidden for a cohort the credential's member is not in."""

    def recognizes(self, authorization: str | None) -> bool:
        """Whether this credential was valid recently: an address refused for its failed
        attempts still lets it through to be checked (``throttle.py``)."""

    # Whether checking a credential costs only a read of our own database: then an address
    # refused for its failed attempts still has each credential checked (a member behind
    # the same address gets in; a wrong one is refused without counting), since that read
    # is what a refusal would cost anyway. A hub's check is a request to the hub: those go
    # one at a time (``throttle.HubLane``).
    checks_locally: bool

    def forget_member(self, member_id: int) -> None:
        """Stop trusting what is cached for ``member_id`` in this process (they left, or their
        role changed): their next request is checked afresh."""


class LocalTokenAuth:
    """Per-member tokens minted by ``nbcohort token MEMBER`` and stored as SHA-256 digests.

    A token that was valid is trusted for ``cache_seconds`` without asking the store again:
    revoking a token or deactivating a member takes effect within that time. Digests that
    were valid within ``remember_seconds`` are recognised (never trusted) after that.
    """

    checks_locally = True

    def __init__(
        self,
        store: Store,
        cache_seconds: float = 10.0,
        *,
        max_entries: int = 10_000,
        remember_seconds: float = 86_400.0,
    ) -> None:
        self.store, self.cache_seconds, self.max_entries = store, cache_seconds, max_entries
        self.remember_seconds = remember_seconds
        self._cache: dict[str, tuple[float, Actor]] = {}
        self._known: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._slugs: dict[int, str] = {}  # a cohort's slug never changes

    async def authenticate(self, authorization: str | None, cohort: str | None = None) -> Actor:
        actor = await self._actor(authorization)
        if cohort and self._slug(actor.cohort_id) != cohort:
            # A local token is one member's, in one cohort: naming another is refused, never
            # answered for the token's own cohort as if it were the one named.
            raise Forbidden(
                f"this token is not a member's of cohort {cohort[:64]!r} (X-Nbcohort-Cohort)"
            )
        return actor

    def _slug(self, cohort_id: int | None) -> str | None:
        if cohort_id is None:
            return None
        slug = self._slugs.get(cohort_id)
        if slug is None:
            slug = self._slugs[cohort_id] = self.store.run(self._lookup_slug, cohort_id)
        return slug

    def _lookup_slug(self, cohort_id: int) -> str:
        with self.store.read() as session:
            cohort = session.get(Cohort, cohort_id)
            return cohort.slug if cohort is not None else ""

    async def _actor(self, authorization: str | None) -> Actor:
        token = token_from_header(authorization)
        if token is None:
            raise Unauthorized("a token is required (Authorization: token <token>)")
        key, now = token_digest(token), time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        actor = self.store.run(self._lookup, token)
        with self._lock:
            if self.cache_seconds > 0:
                if len(self._cache) >= self.max_entries:
                    self._cache.clear()
                self._cache[key] = (now + self.cache_seconds, actor)
            self._known.pop(key, None)
            self._known[key] = now + self.remember_seconds
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
        return actor

    def forget_member(self, member_id: int) -> None:
        """Stop trusting ``member_id``'s tokens at once (they left through this service)."""
        with self._lock:
            for key in [k for k, (_t, a) in self._cache.items() if a.member_id == member_id]:
                del self._cache[key]

    def recognizes(self, authorization: str | None) -> bool:
        token = token_from_header(authorization)
        if token is None:
            return False
        until = self._known.get(token_digest(token))
        return until is not None and until > time.monotonic()

    def _lookup(self, token: str) -> Actor:
        with self.store.read() as session:
            return authenticate_token(session, token)
