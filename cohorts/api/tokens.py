"""How the service learns who is calling. Pluggable: local tokens now, JupyterHub later."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from sqlalchemy.orm import Session

from nbcohort.cohorts.services.auth import Actor, authenticate_token, token_digest

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
    def authenticate(self, session: Session, authorization: str | None) -> Actor:
        """The actor behind a request's Authorization header; raise Unauthorized otherwise."""


class LocalTokenAuth:
    """Per-member tokens minted by ``nbcohort token MEMBER`` and stored as SHA-256 digests.

    A token that was valid is trusted for ``cache_seconds`` without asking the store again:
    revoking a token or deactivating a member takes effect within that time.
    """

    def __init__(self, cache_seconds: float = 10.0, max_entries: int = 10_000) -> None:
        self.cache_seconds, self.max_entries = cache_seconds, max_entries
        self._cache: dict[str, tuple[float, Actor]] = {}
        self._lock = threading.Lock()

    def authenticate(self, session: Session, authorization: str | None) -> Actor:
        token = token_from_header(authorization)
        key = token_digest(token) if token else ""
        now = time.monotonic()
        hit = self._cache.get(key) if key else None
        if hit is not None and hit[0] > now:
            return hit[1]
        actor = authenticate_token(session, token)
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) >= self.max_entries:
                    self._cache.clear()
                self._cache[key] = (now + self.cache_seconds, actor)
        return actor
