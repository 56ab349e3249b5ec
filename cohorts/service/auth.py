"""How the service learns who is calling. Pluggable: local tokens now, JupyterHub later."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from nbcohort.cohorts.services.auth import Actor, authenticate_token

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
    """Per-member tokens minted by ``nbcohort token MEMBER`` and stored as SHA-256 digests."""

    def authenticate(self, session: Session, authorization: str | None) -> Actor:
        return authenticate_token(session, token_from_header(authorization))
