"""The one-click unsubscribe link in every email (RFC 8058), which works without logging in:
its token is signed (HMAC) for one member and does nothing but stop their email. GET shows a
confirmation page and changes nothing, since mail clients and scanners fetch links on their
own; POST (the page's button, or the mail client's List-Unsubscribe-Post) unsubscribes.

The link is public, so its body is never kept: the token is in the URL, and the one-click
body (``List-Unsubscribe=One-Click``) says nothing more. A body over ``MAX_BODY`` is refused
before it is read (the service would otherwise hold megabytes per anonymous request)."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tornado.web import stream_request_body

from nbcohort.cohorts.api.access_log import RedactedLogs
from nbcohort.cohorts.api.answers import database_refusal
from nbcohort.cohorts.api.security_headers import secure_headers
from nbcohort.cohorts.mail.mailer import UNSUBSCRIBE_PATH
from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services import members
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import CommitUnknown

__all__ = ["ROUTES"]

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em">
<h1 style="font-size:1.3em">{title}</h1>{body}</body></html>"""


MAX_BODY = 4096  # a browser's form or RFC 8058's one-click body: a few dozen bytes


@stream_request_body
class UnsubscribeHandler(RedactedLogs):
    """Public: the signed token in the URL is the only credential, and only for this."""

    def prepare(self) -> None:
        length = self.request.headers.get("Content-Length", "")
        self.request.connection.set_max_body_size(MAX_BODY)  # type: ignore[union-attr]
        if length.isdigit() and int(length) > MAX_BODY:
            self.set_header("Connection", "close")  # not read: the connection goes
            self._answer(413, "Too much was sent", "<p>This link takes no upload.</p>")

    def data_received(self, chunk: bytes) -> None:
        """Dropped: nothing in the body is needed."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        secure_headers(self, page=True)

    def check_xsrf_cookie(self) -> None:
        """No cookie to forge: the signed token is the credential (RFC 8058's one POST)."""

    def _member_id(self) -> int | None:
        mail = self.application.settings["nbcohort"].mail
        token = self.get_query_argument("t", "")
        return None if mail is None or len(token) > 100 else mail.member_of(token)

    def _answer(self, status: int, title: str, body: str) -> None:
        self.set_status(status)
        self.finish(_PAGE.format(title=html.escape(title), body=body))

    def _invalid(self) -> None:
        self._answer(
            404,
            "This link is not valid",
            "<p>It may have been cut in two by your mail program. Change your email setting "
            "in the <code>notifications()</code> widget of any course notebook instead.</p>",
        )

    async def get(self) -> None:
        if self._member_id() is None:
            self._invalid()
            return
        action = html.escape(self.request.uri or UNSUBSCRIBE_PATH, quote=True)
        self._answer(
            200,
            "Stop email from the community?",
            "<p>You will get no more email from the community: notifications stay in your "
            "course notebooks.</p>"
            f'<form method="post" action="{action}"><button type="submit" '
            'style="font-size:1em;padding:.4em 1em">Stop all email</button></form>',
        )

    async def post(self) -> None:
        member_id = self._member_id()
        if member_id is None:
            self._invalid()
            return

        def unsubscribe(session: Session) -> Any:
            member = session.get(Member, member_id)
            if member is not None:
                members.set_email_pref(session, Actor.of(member), member, "none")
            return member is not None

        try:
            found = await self.application.settings["nbcohort"].units.write(unsubscribe)
        except (CommitUnknown, DBAPIError) as exc:
            if database_refusal(exc) is None:
                raise
            self._answer(
                503,
                "Please try again in a minute",
                "<p>The community's database is busy: your email setting was not changed.</p>",
            )
            return
        if not found:
            self._invalid()
            return
        self._answer(
            200,
            "You are unsubscribed",
            "<p>No more email will be sent to you. To get email again, choose it in the "
            "<code>notifications()</code> widget.</p>",
        )


ROUTES = [(UNSUBSCRIBE_PATH, UnsubscribeHandler)]
