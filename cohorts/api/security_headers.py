"""The headers every answer of the service carries, and the stricter ones of its HTML pages.

No answer may be sniffed into another type (``nosniff``) or framed by another site
(``frame-ancestors``); JSON answers allow nothing to load at all, and the few HTML pages (the
unsubscribe page of an email) allow only their own inline styles and a form posting back here.
"""

from __future__ import annotations

from tornado.web import RequestHandler

__all__ = ["API_POLICY", "PAGE_POLICY", "attachment", "secure_headers"]

# JSON and files: nothing in them may run, load or be framed even if a browser renders one.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# HTML pages: their inline style attributes, a form to this service, nothing else.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def secure_headers(handler: RequestHandler, *, page: bool = False) -> None:
    """Set the security headers on ``handler``'s answer (``page``: an HTML page)."""
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Content-Security-Policy", PAGE_POLICY if page else API_POLICY)
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "no-referrer")
    handler.clear_header("Server")  # no software or version to look up exploits for


def attachment(handler: RequestHandler, content_type: str, filename: str) -> None:
    """Offer the answer as a download named ``filename`` (letters, digits, '.', '-', '_'
    only: a name can neither break out of the header nor name a folder)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename)
    safe = safe.lstrip(".") or "download"
    handler.set_header("Content-Type", content_type)
    handler.set_header("Content-Disposition", f'attachment; filename="{safe}"')
