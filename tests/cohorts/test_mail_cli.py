"""``nbcohort mail ...`` as cron runs it: two ``mail send`` processes at once deliver each
message exactly once (counted by a real SMTP server), on SQLite and PostgreSQL; ``mail
test`` names what to fix; ``mail status`` and ``mail retry`` look after failures."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select, update

from nbcohort.cohorts.mail.outbox import insert_messages, message_id
from nbcohort.cohorts.models import OutboxMessage
from tests.helpers.processes import isolated_env
from tests.helpers.smtp import smtp_server

pytestmark = pytest.mark.slow


def nbcohort(tmp_path, db_url, *args, env=None, **popen):
    cmd = [sys.executable, "-m", "nbcohort.cohorts.cli", "mail", *args, f"--db-url={db_url}",
           f"--data-dir={tmp_path / 'data'}"]  # fmt: skip
    return subprocess.Popen(
        cmd, env=env or isolated_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **popen,
    )  # fmt: skip


def smtp_args(port, *more):
    return [
        "--MailSettings.transport=smtp",
        "--MailSettings.smtp_host=127.0.0.1",
        f"--MailSettings.smtp_port={port}",
        "--MailSettings.smtp_starttls=False",
        *more,
    ]


def queue(store, cohort, people, per_member: int) -> list[str]:
    rows = [
        {"cohort_id": cohort.id, "member_id": m.id, "kind": "mention",
         "dedupe_key": f"load:{m.id}:{n}", "message_id": message_id("nbcohort@example.org"),
         "to_addr": m.email, "subject": f"message {n}", "body_text": "hello\n"}
        for m in people.values() for n in range(per_member)
    ]  # fmt: skip
    with store.write() as s:
        assert insert_messages(s, rows) == len(rows)
    return [r["message_id"] for r in rows]


def test_two_senders_at_once_deliver_each_message_once(tmp_path, db_url, store, cohort, people):
    ids = queue(store, cohort, people, per_member=50)  # 300 messages
    with smtp_server() as (inbox, port):
        runs = [nbcohort(tmp_path, db_url, "send", *smtp_args(port)) for _ in range(2)]
        outs = [run.communicate(timeout=240) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outs
    assert inbox.ids() == {i: 1 for i in ids}  # every message, each exactly once
    sent = [int(out.split("; ")[1].split(" sent")[0]) for out, _err in outs]
    assert sum(sent) == 300, sent  # how the two shared the work: printed on failure
    with store.read() as s:
        states = set(s.scalars(select(OutboxMessage.state)))
    assert states == {"sent"}


def test_mail_test_names_what_to_fix(tmp_path, db_url, store):
    def run(*args, env=None):
        done = nbcohort(tmp_path, db_url, "test", *args, env=env)
        out, err = done.communicate(timeout=60)
        return done.returncode, out + err

    code, said = run("not-an-address")
    assert code == 2 and "'not-an-address' is not an email address" in said
    with smtp_server(login=("mailer", "s3cret")) as (inbox, port):
        login = ["--MailSettings.smtp_user=mailer", "--MailSettings.smtp_password_env=NBC_SMTP_PW"]
        code, said = run("a@example.org", *smtp_args(port, *login))
        assert code == 2 and "NBC_SMTP_PW" in said and "is empty" in said
        env = isolated_env(tmp_path, NBC_SMTP_PW="wrong")
        code, said = run("a@example.org", *smtp_args(port, *login), env=env)
        assert code == 2 and "refused the login of 'mailer'" in said
        assert "c.MailSettings.smtp_user" in said and "NBC_SMTP_PW" in said
        env = isolated_env(tmp_path, NBC_SMTP_PW="s3cret")
        code, said = run("a@example.org", *smtp_args(port, *login), env=env)
        assert code == 0 and "sent a test message to a@example.org" in said
    assert [m["To"] for m in inbox.messages] == ["a@example.org"]
    code, said = run("b@example.org")  # the default: the outbox folder
    assert code == 0 and "outbox" in said
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 1


def test_status_and_retry_of_failed_messages(tmp_path, db_url, store, cohort, people):
    queue(store, cohort, {"ana": people["ana"]}, per_member=2)
    with store.write() as s:
        s.execute(update(OutboxMessage).values(state="failed", last_error="unknown outcome: x"))
    done = nbcohort(tmp_path, db_url, "status")
    out, _err = done.communicate(timeout=60)
    assert out.startswith("2 failed") and "unknown outcome: x" in out
    first = out.splitlines()[1].split("\t")[0]
    done = nbcohort(tmp_path, db_url, "retry", first)
    assert "1 messages queued again" in done.communicate(timeout=60)[0]
    done = nbcohort(tmp_path, db_url, "send")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0 and "1 sent" in out, err
