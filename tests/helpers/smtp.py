"""Real SMTP servers on loopback for the mail tests (aiosmtpd): one that counts what it
receives, and ones that refuse a login, reject a recipient, or drop the connection in the
middle of a message or after it."""

from __future__ import annotations

import email
import ssl
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.helpers.processes import free_port


class Inbox:
    """The handler: every message the server accepted, with a count per Message-ID."""

    def __init__(self, refuse: set[str] | None = None, drop_after_dot: int = 0) -> None:
        self.messages: list[Any] = []
        self.recipients: list[str] = []
        self.refuse = refuse or set()
        self.drop_after_dot = drop_after_dot  # this many messages: received, then no answer
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            self.recipients.extend(envelope.rcpt_tos)
            drop = self.drop_after_dot > 0
            if drop:
                self.drop_after_dot -= 1
        if drop:
            server.transport.close()  # the message is here; its answer never leaves
        return "250 Message accepted for delivery"

    def ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)


class _DroppingSMTP(SMTP):
    """Answers DATA with 354 and then closes the connection while the message comes in,
    this many times (a server restarted mid-message)."""

    drops = 0

    async def smtp_DATA(self, arg: str) -> None:
        if type(self).drops <= 0 or not self.envelope or not self.envelope.rcpt_tos:
            return await super().smtp_DATA(arg)
        type(self).drops -= 1
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self.transport.close()
        return None


class _Controller(Controller):
    def __init__(self, handler: Any, *, drops: int = 0, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._smtp_class = type("DroppingSMTP", (_DroppingSMTP,), {"drops": drops})

    def factory(self) -> SMTP:
        return self._smtp_class(self.handler, **self.SMTP_kwargs)


@contextmanager
def smtp_server(
    inbox: Inbox | None = None,
    *,
    login: tuple[str, str] | None = None,
    drop_mid_message: int = 0,
    tls: ssl.SSLContext | None = None,
) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 (a free port) until the block ends: (inbox, port).
    ``login`` makes it require that user and password (AUTH without TLS, on loopback);
    ``tls`` makes it offer STARTTLS with that context and require it."""
    inbox = inbox or Inbox()
    kwargs: dict[str, Any] = {}
    if tls is not None:
        kwargs.update(tls_context=tls, require_starttls=True)
    if login is not None:

        def check(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and (
                    auth_data.login.decode(),
                    auth_data.password.decode(),
                )
                == login
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=check, auth_required=True, auth_require_tls=False)
    port = free_port()
    controller = _Controller(
        inbox, drops=drop_mid_message, hostname="127.0.0.1", port=port, **kwargs
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A certificate for 127.0.0.1 made by openssl: the server's TLS context, and the
    certificate file a client trusts it by (SSL_CERT_FILE)."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert
