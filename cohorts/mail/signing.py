"""The secret that signs unsubscribe links, and the links' tokens (HMAC-SHA256).

The secret is kept in a file (``MailSettings.secret_file``, by default ``<data_dir>/mail-secret``)
created with mode 0600 on first use. Two processes creating it at once end up with the same
secret: each writes a private temporary file and links it into place, and the one that loses
the race reads the winner's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["load_secret", "unsubscribe_token", "verify_unsubscribe"]

_PURPOSE = b"nbcohort-unsubscribe:"


def load_secret(path: Path) -> bytes:
    """The secret in ``path``, created (0600) if there is none yet."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and never over an existing secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        raise ValueError(f"{path}: the mail secret is too short (delete the file to make anew)")
    return secret


def _sign(secret: bytes, member_id: int) -> str:
    mac = hmac.new(secret, _PURPOSE + str(member_id).encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode("ascii")


def unsubscribe_token(secret: bytes, member_id: int) -> str:
    """A token that lets whoever holds it stop email to ``member_id``, and nothing else."""
    return f"{member_id}.{_sign(secret, member_id)}"


def verify_unsubscribe(secret: bytes, token: str) -> int | None:
    """The member id ``token`` was made for, or None for a token this secret did not sign."""
    head, _, sig = token.partition(".")
    if not head.isdigit() or len(head) > 10 or not sig:
        return None
    member_id = int(head)
    return member_id if hmac.compare_digest(sig, _sign(secret, member_id)) else None
