"""Signed links that work without a token: a member's calendar feed and the one-click
unsubscribe in every email. An HMAC-SHA256 of the link's purpose and what it names, under one
secret key kept in a file (``NbCohort.signing_key_file``); each purpose signs differently, so a
calendar link never unsubscribes anyone and the other way round."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

__all__ = ["load_key", "member_of", "member_token", "sign", "verify"]

_KEY_BYTES = 32
_MEMBER_ID = re.compile(r"[1-9][0-9]{0,9}")  # ASCII digits only, no leading zero


def load_key(path: Path) -> bytes:
    """The key in ``path``, created (readable by its owner only) when there is none yet.
    Two processes creating it at once agree on one: each writes a private file and links it
    into place, and the one that loses reads the winner's."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_bytes(_KEY_BYTES).hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and never over a key that exists
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    text = path.read_text("ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < _KEY_BYTES:
        raise ValueError(
            f"{path}: not a signing key ({_KEY_BYTES * 2} hex digits); delete the file to make "
            "a new one (links already given out stop working)"
        )
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


def member_token(key: bytes, purpose: str, member_id: int) -> str:
    """One token that names a member and proves it: ``<id>.<signature>``."""
    return f"{member_id}.{sign(key, purpose, member_id)}"


def member_of(key: bytes, purpose: str, token: str) -> int | None:
    """The member a ``member_token`` names, or None for one this key did not sign."""
    head, _, signature = token.partition(".")
    if not _MEMBER_ID.fullmatch(head) or not signature:  # one spelling: "²", "01", "١" are not
        return None
    member_id = int(head)
    return member_id if verify(key, signature, purpose, member_id) else None
