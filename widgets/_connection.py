"""How a widget finds the community: one client and one identity per kernel, and the calm
line it shows instead when the community cannot be reached."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError, CohortClient, ServiceUnavailable

__all__ = ["Connection", "connect", "offline", "reset"]

_cache: dict[tuple[str, str], Connection] = {}


@dataclass
class Connection:
    client: CohortClient
    me: dict[str, Any]
    kept: dict[str, Any] = field(default_factory=dict)  # answers asked once per kernel

    @property
    def member_id(self) -> int:
        return int(self.me["member"]["id"])

    @property
    def is_staff(self) -> bool:
        return self.me["member"]["role"] in ("facilitator", "instructor")


class Offline(Exception):
    """The community is not available to this notebook; the message says why, calmly."""


def connect(client: CohortClient | None = None) -> Connection:
    """The kernel's connection to the service, or Offline within the client timeout."""
    if os.environ.get("NBGRADER_EXECUTION"):
        raise Offline("community offline while nbgrader runs this notebook")
    if client is None:
        client = CohortClient(retries=0)
    if not client.token:
        raise Offline("community offline: no member token in this session")
    key = (client.url, client.token)
    if key in _cache:
        return _cache[key]
    try:
        me = client.me()
    except ServiceUnavailable:
        raise Offline("community offline") from None
    except ClientError as exc:
        if exc.status == 401:
            raise Offline("community offline: this session's member token is not valid") from None
        raise Offline(f"community offline: {exc.message}") from None
    conn = Connection(client, me)
    _cache[key] = conn
    return conn


def reset() -> None:
    """Forget cached connections (a new token, a restarted service)."""
    _cache.clear()


def offline(message: str) -> w.HTML:
    """The one calm line a widget shows when it cannot reach the community."""
    return w.HTML(f'<div class="nbc-offline">☁ {html.escape(message)}</div>')
