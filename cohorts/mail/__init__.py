"""Email: Jinja2 templates, the outbox (each message queued once, sent at most once), SMTP
or an outbox folder, digests of what a member missed, signed unsubscribe links.

The steps a time-driven command calls (``nbcohort mail ...``, or the cadence tick):
``queue_due`` queues what is due, ``send_due`` sends it. Both are safe from cron every
minute and twice at once: the database decides. From a command::

    from nbcohort.cohorts.cli.mail import mailer_for
    mailer = mailer_for(self)  # the command's own config: MailSettings, data dir
    queue_due(store, mailer)
    send_due(store, mailer, make_transport(mailer.settings, mailer.data_dir))

Other parts queue their own messages with ``queue_message`` (a template per kind in
``templates/``) under a dedupe key that names the message; a notification is emailed
under ``notification:<id>``, so queueing one of those again changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from nbcohort.cohorts.mail.mailer import UNSUBSCRIBE_PATH, Mailer
from nbcohort.cohorts.mail.queue import (
    DigestReport,
    queue_digests,
    queue_message,
    queue_notifications,
)
from nbcohort.cohorts.mail.render import check_templates, render
from nbcohort.cohorts.mail.sender import SendReport, send_due, send_test
from nbcohort.cohorts.mail.transport import MailConfigError, SendError, make_transport
from nbcohort.cohorts.store import Store

__all__ = [
    "UNSUBSCRIBE_PATH",
    "DigestReport",
    "MailConfigError",
    "Mailer",
    "SendError",
    "SendReport",
    "check_templates",
    "make_transport",
    "queue_digests",
    "queue_due",
    "queue_message",
    "queue_notifications",
    "render",
    "send_due",
    "send_test",
]


def queue_due(
    store: Store, mailer: Mailer, now: datetime | None = None
) -> tuple[int, DigestReport]:
    """Queue every email that is due: notifications, then digests. Returns how many
    notification emails were queued and what the digest run did."""
    return queue_notifications(store, mailer, now), queue_digests(store, mailer, now)
