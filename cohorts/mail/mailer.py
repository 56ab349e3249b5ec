"""What every part of mail shares: the settings, the signing key, the links in a
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
from nbcohort.cohorts.models import OutboxMessage
from nbcohort.cohorts.signing import load_key, member_of, member_token

__all__ = ["UNSUBSCRIBE_PATH", "Mailer"]

UNSUBSCRIBE_PATH = "/mail/unsubscribe"
_UNSUBSCRIBE = "unsubscribe"  # the signing purpose of these links
# Header lines up to RFC 5322's 998 characters: a long unsubscribe URL stays one URL (at 78,
# Python would fold it into encoded words that mail clients cannot follow).
_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass
class Mailer:
    """Mail settings as one object: made by the CLI, the service and tests alike.

    ``public_url`` is where links in a message point (ServiceSettings.public_base());
    ``key_file`` the signing key's file (NbCohort.signing_key_path()), read on first use."""

    settings: MailSettings
    data_dir: str
    public_url: str = ""
    key_file: str = ""
    _key: bytes | None = field(default=None, repr=False)

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = load_key(Path(self.key_file or os.path.join(self.data_dir, "signing.key")))
        return self._key

    @cached_property
    def _public_url(self) -> str:
        return (self.public_url or ServiceSettings().public_base()).rstrip("/")

    def unsubscribe_url(self, member_id: int) -> str:
        token = member_token(self.key, _UNSUBSCRIBE, member_id)
        return f"{self._public_url}{UNSUBSCRIBE_PATH}?t={token}"

    def member_of(self, token: str) -> int | None:
        """The member an unsubscribe token names, or None for a forged one."""
        return member_of(self.key, _UNSUBSCRIBE, token)

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
