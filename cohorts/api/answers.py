"""How the API answers: JSON bodies, and refusals in one shape.

Every answer is ``{"error": code, "message": text}`` (plus ``field`` when one input is at
fault) with its status: the services layer's refusals (401, 403, 404, 409, 422), the
service's own (413, 429) and the database's (503). Nothing else reaches a member: not a
traceback, not an HTML page.
"""

from __future__ import annotations

import logging
from functools import partial

import orjson
from sqlalchemy.exc import DBAPIError, OperationalError

from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.store import CommitUnknown, is_busy

__all__ = ["Refusal", "database_refusal", "encode", "refusal_of"]

log = logging.getLogger("nbcohort.service")

# orjson: thread pages are tens of kB of JSON, encoded on the service's one event loop.
encode = partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS)


class Refusal(ServiceError):
    """A refusal the HTTP layer itself makes (not the rules'): too large, too many tries."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


def database_refusal(exc: BaseException) -> Refusal | None:
    """The 503 for a request the database failed, not the member; None for anything else
    (a bug, which stays a 500 and is logged)."""
    if isinstance(exc, CommitUnknown):
        log.warning("lost the database connection during a commit: %s", exc.__cause__)
        return _unavailable(
            "unknown",
            "the connection to the database closed while saving: look whether your change "
            "is there before you try again",
        )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # lost twice (Store.run)
        log.warning("lost the database connection: %s", exc.orig)
        return _unavailable(
            "unavailable", "the community lost its database; nothing was saved, try again"
        )
    if not isinstance(exc, OperationalError):
        return None
    if is_busy(exc):
        log.warning("database busy past the busy timeout: %s", exc.orig)
        return _unavailable(
            "busy", "the community is busy; nothing was saved, try again in a moment"
        )
    log.error("the database cannot be used: %s", exc.orig)
    return _unavailable(
        "unavailable", "the community's database cannot be reached; nothing was saved"
    )


def _unavailable(code: str, message: str) -> Refusal:
    return Refusal(503, code, message, retry_after=2)


def refusal_of(status: int, reason: str) -> Refusal:
    """Tornado's own errors (405, 400...) in the API's shape."""
    code = "server_error" if status >= 500 else "http_error"
    return Refusal(status, code, reason if status < 500 else "the service failed; try again")
