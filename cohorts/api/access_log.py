"""The service's access log, without the secrets some links carry: a calendar feed's
signature (``/calendar/<id>/<signature>.ics``) and the token in the query (the unsubscribe
link's ``?t=``, a misplaced ``?access_token=``) are each replaced by ``…``; whoever reads the
logs sees the request's method, path shape, status and time, not a link that works. Tornado's
own line otherwise (``Application.log_request``), through its ``log_function`` setting."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

from tornado.log import access_log, app_log
from tornado.web import HTTPError, RequestHandler

__all__ = ["RedactedLogs", "log_request", "redact_uri"]

REDACTED = "…"
SECRET_PARAMS = frozenset({"t", "token", "access_token"})
_CALENDAR = re.compile(r"(/calendar/[^/]*/).*?(\.ics)?$")


def redact_uri(uri: str) -> str:
    """``uri`` with the signature of a calendar link and secret query values replaced."""
    path, mark, query = uri.partition("?")
    path = _CALENDAR.sub(lambda m: f"{m[1]}{REDACTED}{m[2] or ''}", path)
    if not mark:
        return path
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        secret = unquote_plus(name).strip() in SECRET_PARAMS
        parts.append(f"{name}={REDACTED}" if secret and eq else part)
    return f"{path}?{'&'.join(parts)}"


def log_request(handler: RequestHandler) -> None:
    """One line per request, as Tornado writes it, with the URI redacted."""
    status = handler.get_status()
    if status < 400:
        write = access_log.info
    elif status < 500:
        write = access_log.warning
    else:
        write = access_log.error
    request = handler.request
    write(
        "%d %s %s (%s) %.2fms",
        status,
        request.method,
        redact_uri(request.uri or ""),
        request.remote_ip,
        1000.0 * request.request_time(),
    )


class RedactedLogs(RequestHandler):
    """A handler whose own log lines (an error, an uncaught exception) name the request with
    the URI redacted too: Tornado's would carry the whole URI, twice."""

    def _request_summary(self) -> str:
        request = self.request
        return f"{request.method} {redact_uri(request.uri or '')} ({request.remote_ip})"

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HTTPError):
            super().log_exception(typ, value, tb)  # its line is built from _request_summary
            return
        app_log.error("Uncaught exception %s", self._request_summary(), exc_info=(typ, value, tb))
