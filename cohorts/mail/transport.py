"""Where a composed message goes: an outbox folder (one ``.eml`` per message; the embedded
default, which sends nothing) or an SMTP server from config.

A transport says how a send ended by what it raises:

- ``MailConfigError``: the settings are wrong (a refused login, no STARTTLS, a refused
  sender, a server that cannot be reached); the message names the setting to fix. The
  sender stops and the message waits, its attempt not counted.
- ``SendError(outcome="retry")``: nothing was delivered (a 4xx answer, a connection lost
  before the message was complete): try again later.
- ``SendError(outcome="failed")``: refused for good (a 5xx answer for this recipient).
- ``SendError(outcome="unknown")``: the whole message went out but the server's answer never
  came back; it may have been delivered, so it is not resent.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Protocol

from nbcohort.cohorts.config import MailSettings

__all__ = [
    "MailConfigError",
    "OutboxFolder",
    "SendError",
    "SmtpTransport",
    "Transport",
    "make_transport",
]

Outcome = Literal["retry", "failed", "unknown"]
_GRACE = 0.005  # seconds to wait for a closed connection's end of file before the dot


class MailConfigError(RuntimeError):
    """The mail settings are wrong; the message names the setting to fix."""


class SendError(Exception):
    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome, self.message = outcome, message


class Transport(Protocol):
    description: str

    def open(self) -> None:
        """Be ready to send (connect and log in); MailConfigError if the settings are wrong."""

    def send(self, message: EmailMessage, to: str) -> None:
        """Deliver ``message`` to ``to``, or raise SendError / MailConfigError."""

    def close(self) -> None: ...


class OutboxFolder:
    """Each message as ``<Message-ID>.eml`` in a folder: sending again writes the same file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"the outbox folder {folder} (nothing is sent)"

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailConfigError(
                f"cannot create the outbox folder {self.folder} ({exc.strerror}): check "
                "c.MailSettings.outbox_dir (or c.NbCohort.data_dir)"
            ) from None

    def send(self, message: EmailMessage, to: str) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(message["Message-ID"]).strip("<>"))
        path = self.folder / f"{name}.eml"
        tmp = path.with_suffix(".eml.tmp")
        try:
            tmp.write_bytes(bytes(message))
            os.replace(tmp, path)
        except OSError as exc:
            raise SendError("retry", f"cannot write {path}: {exc.strerror}") from None

    def close(self) -> None:
        pass


class _SMTP(smtplib.SMTP):
    """smtplib's client, sending a message's closing dot on its own: a server that closed
    the connection before it got an incomplete message and delivered nothing, so it is
    retried; a connection lost after the dot may have delivered the message
    (``payload_sent``), so it is not. A close that arrives later than the short grace
    before the dot counts as after it: an unknown outcome, never a second delivery."""

    payload_sent = False

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # The dot goes out as a small write of its own: without TCP_NODELAY, Nagle holds it
        # until the server's delayed acknowledgement of the body (tens of ms per message).
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send(self, s: Any) -> None:
        if not (isinstance(s, bytes) and s.endswith(b"\r\n.\r\n")) or self.sock is None:
            super().send(s)
            return
        super().send(s[:-3])
        if _closed(self.sock):
            self.close()
            raise smtplib.SMTPServerDisconnected("the server closed the connection")
        super().send(s[-3:])
        self.payload_sent = True


def _closed(sock: socket.socket) -> bool:
    """Whether the peer has closed ``sock``, waiting at most a few milliseconds for its end
    of file to arrive (a healthy server says nothing until the dot: this is the whole cost)."""
    readable, _, _ = select.select([sock], [], [], _GRACE)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class SmtpTransport:
    """One SMTP connection per run, opened again after the server drops it."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.where = f"{settings.smtp_host}:{settings.smtp_port}"
        self.description = f"SMTP via {self.where}" + (
            f" as {settings.smtp_user}" if settings.smtp_user else ""
        )
        self._smtp: _SMTP | None = None

    def _password(self) -> str:
        name = self.settings.smtp_password_env
        password = os.environ.get(name, "") if name else ""
        if self.settings.smtp_user and not password:
            raise MailConfigError(
                f"c.MailSettings.smtp_user is {self.settings.smtp_user!r} but the environment "
                f"variable {name or '(none)'} holding its password is empty: set it, or name "
                "another one in c.MailSettings.smtp_password_env"
            )
        return password

    def open(self) -> None:
        if self._smtp is not None:
            return
        s = self.settings
        if not s.smtp_host:
            raise MailConfigError(
                "c.MailSettings.transport is 'smtp' but c.MailSettings.smtp_host is empty"
            )
        password = self._password()
        try:
            smtp = _SMTP(s.smtp_host, s.smtp_port, socket.gethostname(), timeout=s.smtp_timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailConfigError(
                f"cannot reach the SMTP server {self.where} ({exc}): check "
                "c.MailSettings.smtp_host and c.MailSettings.smtp_port (or the server is "
                "down: queued messages wait for the next run)"
            ) from None
        try:
            smtp.ehlo()
            if s.smtp_starttls:
                if not smtp.has_extn("starttls"):
                    raise MailConfigError(
                        f"the SMTP server {self.where} does not offer STARTTLS: check "
                        "c.MailSettings.smtp_port, or set c.MailSettings.smtp_starttls = False "
                        "(only for a server on this machine or a trusted network)"
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            if "STARTTLS" in _said(exc.smtp_error).upper():
                raise MailConfigError(
                    f"the SMTP server {self.where} wants STARTTLS before a login "
                    f"({exc.smtp_code} {_said(exc.smtp_error)}): set "
                    "c.MailSettings.smtp_starttls = True"
                ) from None
            raise MailConfigError(
                f"the SMTP server {self.where} refused the login of {s.smtp_user!r} "
                f"({exc.smtp_code} {_said(exc.smtp_error)}): check c.MailSettings.smtp_user "
                f"and the password in the environment variable {s.smtp_password_env} "
                "(c.MailSettings.smtp_password_env)"
            ) from None
        except ssl.SSLError as exc:
            smtp.close()
            raise MailConfigError(
                f"TLS with the SMTP server {self.where} failed ({exc.reason}): check "
                "c.MailSettings.smtp_host (the name on the server's certificate); a server "
                "whose certificate a private authority signed needs that authority among "
                "the machine's trusted certificates (or in SSL_CERT_FILE)"
            ) from None
        except smtplib.SMTPNotSupportedError:
            smtp.close()
            raise MailConfigError(
                f"the SMTP server {self.where} offers no login on this connection: check "
                "c.MailSettings.smtp_starttls (many servers offer a login only after "
                "STARTTLS) and c.MailSettings.smtp_user"
            ) from None
        except MailConfigError:
            smtp.close()
            raise
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise MailConfigError(
                f"the SMTP server {self.where} failed while logging in ({exc}): check "
                "c.MailSettings.smtp_host, smtp_port, smtp_starttls and smtp_user"
            ) from None
        self._smtp = smtp

    def send(self, message: EmailMessage, to: str) -> None:
        self.open()
        smtp = self._smtp
        assert smtp is not None
        smtp.payload_sent = False
        try:
            smtp.send_message(message, from_addr=self.settings.from_address, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = exc.recipients.get(to, (550, b""))
            raise _answer(
                code, f"the server refused the recipient {to}: {code} {_said(said)}"
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            if "STARTTLS" in _said(exc.smtp_error).upper():
                raise MailConfigError(
                    f"the SMTP server {self.where} wants STARTTLS first "
                    f"({exc.smtp_code} {_said(exc.smtp_error)}): set "
                    "c.MailSettings.smtp_starttls = True"
                ) from None
            if exc.smtp_code in (530, 535) or exc.smtp_code >= 500:
                raise MailConfigError(
                    f"the SMTP server {self.where} refused the sender "
                    f"{self.settings.from_address!r} ({exc.smtp_code} {_said(exc.smtp_error)}): "
                    "check c.MailSettings.from_address, and c.MailSettings.smtp_user if the "
                    "server wants a login"
                ) from None
            raise SendError(
                "retry", f"sender deferred: {exc.smtp_code} {_said(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPDataError as exc:
            raise _answer(
                exc.smtp_code,
                f"the server refused the message: {exc.smtp_code} {_said(exc.smtp_error)}",
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if smtp.payload_sent:
                raise SendError(
                    "unknown",
                    f"the connection to {self.where} ended after the whole message was sent "
                    f"and before the server answered ({exc or type(exc).__name__})",
                ) from None
            raise SendError(
                "retry",
                f"the connection to {self.where} ended before the message was complete "
                f"({exc or type(exc).__name__})",
            ) from None

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self._smtp.quit()
        self._drop()


def _said(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:300]


def _answer(code: int, message: str) -> SendError:
    return SendError("failed" if code >= 500 else "retry", message)


def make_transport(settings: MailSettings, data_dir: str) -> Transport:
    """The transport the settings choose."""
    if settings.transport == "smtp":
        return SmtpTransport(settings)
    return OutboxFolder(Path(settings.outbox_dir or os.path.join(data_dir, "outbox")))
