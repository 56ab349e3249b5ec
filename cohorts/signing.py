"""Signed links that work without logging in (a member's calendar feed): an HMAC-SHA256 of
what the link names, under a secret key kept in a file of the data dir."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["load_key", "sign", "verify"]


def load_key(path: Path) -> bytes:
    """The key in ``path``, created (readable by its owner only) when there is none yet;
    two processes creating it at once agree on one."""
    try:
        return bytes.fromhex(path.read_text("ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path)
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
    return key


def sign(key: bytes, purpose: str, *parts: object) -> str:
    """A URL-safe token for ``purpose`` (``"calendar"``) over ``parts`` (a member id)."""
    message = "\x1f".join([purpose, *map(str, parts)]).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(key: bytes, token: str, purpose: str, *parts: object) -> bool:
    """Whether ``token`` is ``sign(key, purpose, *parts)`` (in constant time)."""
    return hmac.compare_digest(
        sign(key, purpose, *parts).encode(), token.encode("utf-8", "replace")
    )
