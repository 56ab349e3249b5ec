"""What every part of mail shares: the settings, the signing secret, the links in a
message, and a queued row made into the email that goes out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nbcohort.cohorts.config import MailSettings, ServiceSettings
from nbcohort.cohorts.mail.signing import load_secret, unsubscribe_token, verify_unsubscribe
from nbcohort.cohorts.models import OutboxMessage

__all__ = ["UNSUBSCRIBE_PATH", "Mailer"]

UNSUBSCRIBE_PATH = "/mail/unsubscribe"
# Header lines up to RFC 5322's 998 characters: a long unsubscribe URL stays one URL (at 78,
# Python would fold it into encoded words that mail clients cannot follow).
_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass
class Mailer:
    """Mail settings as one object: made by the CLI, the service and tests alike."""

    settings: MailSettings
    data_dir: str
    service: ServiceSettings | None = None
    _secret: bytes | None = field(default=None, repr=False)

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            path = self.settings.secret_file or os.path.join(self.data_dir, "mail-secret")
            self._secret = load_secret(Path(path))
        return self._secret

    @cached_property
    def _public_url(self) -> str:
        base = self.settings.public_url.rstrip("/")
        if not base:
            service = self.service or ServiceSettings()
            base = f"http://{service.ip}:{service.port}"
        return base

    def unsubscribe_url(self, member_id: int) -> str:
        token = unsubscribe_token(self.secret, member_id)
        return f"{self._public_url}{UNSUBSCRIBE_PATH}?t={token}"

    def member_of(self, token: str) -> int | None:
        """The member an unsubscribe token names, or None for a forged one."""
        return verify_unsubscribe(self.secret, token)

    def notebook_url(self, link: dict[str, Any] | None) -> str | None:
        """The address a member opens ``link`` (a section_link) at, when the settings say
        where notebooks are (``notebook_url``); None otherwise."""
        if not link:
            return None
        if link.get("url"):
            return str(link["url"])
        base = self.settings.notebook_url
        if not base or not link.get("notebook"):
            return None
        url = base.rstrip("/") + "/" + quote(str(link["notebook"]))
        return url + (f"#cell-id={quote(str(link['cell']))}" if link.get("cell") else "")

    def compose(self, row: OutboxMessage) -> EmailMessage:
        """The email for a queued row, the same bytes at every attempt."""
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = formataddr((self.settings.from_name, self.settings.from_address))
        msg["To"] = row.to_addr
        msg["Subject"] = row.subject
        msg["Date"] = format_datetime(row.created_at)
        msg["Message-ID"] = row.message_id
        msg["Auto-Submitted"] = "auto-generated"
        if row.member_id is not None and row.kind != "test":
            # RFC 2369 and RFC 8058: one click in the mail client, a POST without a login.
            msg["List-Unsubscribe"] = f"<{self.unsubscribe_url(row.member_id)}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(row.body_text)
        if row.body_html:
            msg.add_alternative(row.body_html, subtype="html")
        return msg
