"""``nbcohort mail ...``: send what is due, queue digests, check the settings, and look
after messages that could not be sent. ``send`` and ``digest`` are safe from cron every
minute and twice at once (the database decides what is due and that it happens once)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand
from nbcohort.cohorts.config import ClientSettings, MailSettings, ServiceSettings
from nbcohort.cohorts.mail import (
    MailConfigError,
    Mailer,
    SendError,
    check_templates,
    make_transport,
    queue_digests,
    queue_notifications,
    send_due,
    send_test,
)
from nbcohort.cohorts.mail.outbox import requeue
from nbcohort.cohorts.mail.render import TemplateProblem
from nbcohort.cohorts.models import OutboxMessage

__all__ = ["MailApp", "mailer_for"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def mailer_for(command: NbCohortCommand) -> Mailer:
    """The mail settings of ``command``'s config (jupyter_config.py and its command line)."""
    where = command.settings()
    return Mailer(
        MailSettings(parent=command),
        where.data_dir,
        public_url=ServiceSettings(parent=command).public_base(ClientSettings(parent=command).url),
        key_file=str(where.signing_key_path()),
    )


class _MailCommand(NbCohortCommand):
    def mailer(self) -> Mailer:
        return mailer_for(self)


class MailSend(_MailCommand):
    name = "mail send"
    description = (
        "Queue the notification emails that are due, then send what is due from the outbox "
        "(retries included). Safe from cron every minute, and twice at once."
    )

    def run(self) -> None:
        mailer = self.mailer()
        try:
            with self.store() as store:
                queued = queue_notifications(store, mailer)
                report = send_due(store, mailer, make_transport(mailer.settings, mailer.data_dir))
        except (MailConfigError, TemplateProblem) as exc:
            raise CommandError(str(exc)) from None
        print(f"{queued} notification emails queued; {report.summary()}")


class MailDigest(_MailCommand):
    name = "mail digest"
    description = (
        "Queue a digest for each member who has been away long enough and missed something "
        "(MailSettings.digest_idle_hours, digest_interval_hours); 'mail send' sends them."
    )

    def run(self) -> None:
        try:
            with self.store() as store:
                report = queue_digests(store, self.mailer())
        except TemplateProblem as exc:
            raise CommandError(str(exc)) from None
        print(report.summary())


class MailTest(_MailCommand):
    name = "mail test"
    description = (
        "Check the templates and send one message to ADDRESS now with the configured "
        "settings; an error names the setting to fix."
    )

    def run(self) -> None:
        address = self.arg(0, "the address to send the test message to").strip()
        if not _EMAIL.match(address) or len(address) > 254:
            raise CommandError(f"{address!r} is not an email address")
        problems = check_templates()
        if problems:
            raise CommandError("email templates are broken:\n  " + "\n  ".join(problems))
        mailer = self.mailer()
        try:
            where = send_test(mailer, make_transport(mailer.settings, mailer.data_dir), address)
        except MailConfigError as exc:
            raise CommandError(str(exc)) from None
        except SendError as exc:
            raise CommandError(f"the test message was not sent: {exc.message}") from None
        print(f"sent a test message to {address} through {where}")


class MailStatus(_MailCommand):
    name = "mail status"
    description = "Count the outbox's messages by state and list those that failed."

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            counts = dict(
                s.execute(
                    select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
                ).all()
            )
            print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "empty")
            failed = s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.state == "failed")
                .order_by(OutboxMessage.id.desc())
                .limit(50)
            )
            for row in failed:
                print(f"{row.id}\t{row.to_addr}\t{row.message_id}\t{row.last_error}")


class MailRetry(_MailCommand):
    name = "mail retry"
    description = (
        "Queue failed messages ID... again (after checking, for those with an unknown "
        "outcome, that the server did not deliver them)."
    )

    def run(self) -> None:
        if not self.extra_args or not all(a.isdigit() for a in self.extra_args):
            raise CommandError("give the ids of failed messages ('nbcohort mail status')")
        with self.store() as store, store.write() as s:
            count = requeue(s, [int(a) for a in self.extra_args])
        print(f"{count} messages queued again")


class MailApp(NbCohortCommand):
    name = "mail"
    description = "Email: send what is due, queue digests, test the settings."
    subcommands = {
        "send": (MailSend, MailSend.description),
        "digest": (MailDigest, MailDigest.description),
        "test": (MailTest, MailTest.description),
        "status": (MailStatus, MailStatus.description),
        "retry": (MailRetry, MailRetry.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: send, digest, test, status, retry")
