"""Sending what is due from the outbox, never a message twice (``outbox.py`` has the states).

Each message is claimed in a transaction of its own and committed before the transport is
called, then marked in another: a sender killed between the two leaves the row ``sending``,
and after ``sending_timeout_minutes`` it is marked failed for a person to look at (it may
have reached the server; resending it blindly could deliver it twice). Two senders at once
claim different rows. The connection is opened before anything is claimed, so wrong
settings stop the run with nothing touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from nbcohort.cohorts.mail.mailer import Mailer
from nbcohort.cohorts.mail.outbox import (
    UNKNOWN,
    claim_next,
    count_due,
    expire_stuck,
    mark_failed,
    mark_retry,
    mark_sent,
    mark_skipped,
    message_id,
)
from nbcohort.cohorts.mail.render import render
from nbcohort.cohorts.mail.transport import MailConfigError, SendError, Transport
from nbcohort.cohorts.models import Member, OutboxMessage, utcnow
from nbcohort.cohorts.store import Store

__all__ = ["DIGEST_KINDS", "SendReport", "send_due", "send_test"]

# What a member whose email_pref is 'digest' still gets.
DIGEST_KINDS = frozenset({"digest", "highlights"})


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0  # may have been delivered: marked failed, never resent by itself
    expired: int = 0  # found stuck in 'sending' after a sender died

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry later, {self.failed} failed, "
            f"{self.skipped} skipped, {self.unknown + self.expired} with an unknown outcome"
        )


def _skip_reason(row: OutboxMessage, member: Member | None) -> str | None:
    """Why a queued message must not go out any more, or None to send it."""
    if row.member_id is None:
        return None if row.kind == "test" else "not sent: the member no longer exists"
    if member is None:
        return "not sent: the member no longer exists"
    if not member.active:
        return "not sent: the member left the cohort"
    if member.email is None or member.email != row.to_addr:
        return "not sent: the member's address changed or was removed since it was queued"
    if member.email_pref == "none" or (
        member.email_pref == "digest" and row.kind not in DIGEST_KINDS
    ):
        return f"not sent: the member's email setting is now '{member.email_pref}'"
    return None


def _claim(store: Store) -> tuple[OutboxMessage, str | None] | None:
    with store.write() as s:
        row = claim_next(s)
        if row is None:
            return None
        member = s.get(Member, row.member_id) if row.member_id is not None else None
        return row, _skip_reason(row, member)


def _release(session: Session, row: OutboxMessage, reason: str) -> None:
    """Back to queued as it was: the settings were at fault, not the message."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.state == "sending")
        .values(state="queued", attempts=OutboxMessage.attempts - 1, last_error=reason[:2000])
    )


def send_due(
    store: Store, mailer: Mailer, transport: Transport, *, limit: int | None = None
) -> SendReport:
    """Send the outbox's due messages (at most ``limit``, by default ``batch_size``).
    Raises MailConfigError (after putting its message back) when the settings are wrong."""
    settings, report = mailer.settings, SendReport()
    limit = settings.batch_size if limit is None else limit
    with store.write() as s:
        report.expired = expire_stuck(s, timedelta(minutes=settings.sending_timeout_minutes))
    with store.read() as s:
        if not count_due(s):
            return report
    transport.open()
    try:
        for _ in range(limit):
            claimed = _claim(store)
            if claimed is None:
                break
            row, skip = claimed
            if skip is not None:
                with store.write() as s:
                    mark_skipped(s, row.id, skip)
                report.skipped += 1
                continue
            try:
                transport.send(mailer.compose(row), row.to_addr)
            except MailConfigError as exc:
                with store.write() as s:
                    _release(s, row, str(exc))
                raise
            except SendError as exc:
                _record_failure(store, mailer, row, exc, report)
            else:
                with store.write() as s:
                    mark_sent(s, row.id)
                report.sent += 1
    finally:
        transport.close()
    return report


def _record_failure(
    store: Store, mailer: Mailer, row: OutboxMessage, exc: SendError, report: SendReport
) -> None:
    settings = mailer.settings
    with store.write() as s:
        if exc.outcome == "unknown":
            mark_failed(s, row.id, f"{UNKNOWN}: {exc.message}")
            report.unknown += 1
        elif exc.outcome == "failed":
            mark_failed(s, row.id, exc.message)
            report.failed += 1
        elif mark_retry(
            s,
            row,
            exc.message,
            max_attempts=settings.max_attempts,
            base=settings.retry_base_seconds,
            cap=settings.retry_max_seconds,
        ):
            report.retrying += 1
        else:
            report.failed += 1


def send_test(mailer: Mailer, transport: Transport, address: str) -> str:
    """Send one message to ``address`` now, outside the outbox, to check the settings;
    returns where it went. Raises MailConfigError or SendError naming what to fix."""
    rendered = render(
        "test",
        {
            "member": {"name": address, "username": ""},
            "cohort": {"title": "nbcohort"},
            "unsubscribe_url": "",
            "pref_label": "",
            "transport": transport.description,
        },
    )
    row = OutboxMessage(
        member_id=None,
        kind="test",
        to_addr=address,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        message_id=message_id(mailer.settings.from_address),
        created_at=utcnow(),
    )
    transport.open()
    try:
        transport.send(mailer.compose(row), address)
    finally:
        transport.close()
    return transport.description
