"""The rhythm's email as cron runs it: ``nbcohort cadence tick`` queues the onboarding step a
member was just notified of and the routine post it published (``mail/rhythm.py``), and
``nbcohort mail send`` delivers them to a real SMTP server, once each, honouring each member's
email setting and members without an address; a second tick and a second send add nothing."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from nbcohort.cohorts.mail.render import check_templates, render, sample_context
from nbcohort.cohorts.models import Member, OutboxMessage
from tests.helpers.processes import isolated_env
from tests.helpers.rhythm import apply_text, cohort_toml
from tests.helpers.smtp import smtp_server

pytestmark = pytest.mark.slow

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def nbcohort(tmp_path, db_url, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "nbcohort.cohorts.cli", *args, f"--db-url={db_url}",
           f"--data-dir={tmp_path / 'data'}"]  # fmt: skip
    return subprocess.run(
        cmd, env=isolated_env(tmp_path), capture_output=True, text=True, timeout=120
    )


def test_the_routine_and_highlights_templates_render():
    assert check_templates() == []
    for kind in ("routine", "highlights"):
        context = sample_context(kind)
        context["item"] = {**context["item"], "html": "<p>x</p>", "url": None}
        mail = render(kind, context)
        assert "Top Tip Tuesday" in mail.subject and "topic/top-tip" in mail.text
        assert "&lt;p&gt;x" in mail.html  # a plain string is escaped: only Markup passes


def test_the_tick_queues_and_mail_send_delivers_once(tmp_path, db_url, store, cohort, people):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    due = now - timedelta(minutes=5)
    start = (now - timedelta(days=1)).date().isoformat()  # the onboarding has begun
    text = cohort_toml(starts_on=start, timezone="UTC", routine_day=DAYS[due.weekday()],
                       routine_time=due.strftime("%H:%M"))  # fmt: skip
    apply_text(store, text, now - timedelta(hours=1))
    with store.write() as s:  # ben wants no email, chi has no address, fay wants a digest
        s.execute(update(Member).where(Member.username == "ben").values(email_pref="none"))
        s.execute(update(Member).where(Member.username == "chi").values(email=None))
        s.execute(update(Member).where(Member.username == "fay").values(email_pref="digest"))
        s.execute(update(Member).values(joined_at=now - timedelta(minutes=1)))
    tick = ["cadence", "tick", "--cohort=spring-26", f"--now={now.isoformat()}"]
    first = nbcohort(tmp_path, db_url, *tick)
    assert first.returncode == 0, first.stderr
    assert "routine or highlights emails queued" in first.stdout, first.stdout
    again = nbcohort(tmp_path, db_url, *tick)
    assert again.returncode == 0 and "emails queued" not in again.stdout, again.stdout
    with store.read() as s:
        queued = s.execute(select(OutboxMessage.kind, OutboxMessage.to_addr)).all()
    kinds = Counter(kind for kind, _ in queued)
    assert kinds["routine"] >= 1 and kinds["onboarding"] >= 1, (kinds, first.stdout)
    to = {addr for _, addr in queued}
    assert "ben@example.org" not in to and "fay@example.org" not in to  # none / digest only
    assert all(addr for addr in to)  # chi: no address, nothing queued
    smtp = ["--MailSettings.transport=smtp", "--MailSettings.smtp_host=127.0.0.1",
            "--MailSettings.smtp_starttls=False"]  # fmt: skip
    with smtp_server() as (inbox, port):
        for _ in range(2):
            sent = nbcohort(tmp_path, db_url, "mail", "send", *smtp,
                            f"--MailSettings.smtp_port={port}")  # fmt: skip
            assert sent.returncode == 0, sent.stderr
    assert len(inbox.messages) == len(queued) and set(inbox.ids().values()) == {1}
    subjects = Counter((str(m["To"]), str(m["Subject"])) for m in inbox.messages)
    assert set(subjects.values()) == {1}  # each step and routine once per member
    routine = [m for m in inbox.messages if str(m["Subject"]).startswith("Top Tip Tuesday")]
    assert routine and "unsubscribe" in routine[0].get_body(("plain",)).get_content()
    onboarding = [m for m in inbox.messages if str(m["Subject"]).startswith("Welcome to")]
    assert {str(m["To"]) for m in onboarding} == {"ana@example.org"}  # the learner who wants it
