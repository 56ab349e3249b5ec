"""Email through a real SMTP server on loopback (aiosmtpd): queued once, sent at most once,
retried after a failure that delivered nothing, never resent after one that may have; a
refused login, a rejected recipient and a dropped connection; the outbox folder; the
templates; the signed unsubscribe links."""

from __future__ import annotations

import email
import os
import shutil
import stat
from datetime import timedelta
from email import policy

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined
from sqlalchemy import select, update

from nbcohort.cohorts.config import MailSettings
from nbcohort.cohorts.mail import (
    MailConfigError,
    Mailer,
    check_templates,
    make_transport,
    queue_notifications,
    send_due,
    send_test,
)
from nbcohort.cohorts.mail.outbox import claim_next
from nbcohort.cohorts.mail.render import KINDS, TemplateProblem, render, sample_context
from nbcohort.cohorts.models import Member, Notification, OutboxMessage, clock_at, utcnow
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.signing import load_key, member_of, member_token, sign
from tests.helpers.community import actor
from tests.helpers.smtp import Inbox, smtp_server

ANCHOR = "module-1/reading-files"


def mailer_for(tmp_path, port: int | None = None, public_url: str = "", **settings) -> Mailer:
    base = {"notify_delay_minutes": 0.0, "retry_base_seconds": 60.0}
    if port is not None:
        base.update(transport="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
    base.update(settings)
    return Mailer(MailSettings(**base), str(tmp_path / "data"), public_url=public_url)


def mention(store, cohort, people, who="ben", whom="ana", text="") -> None:
    with store.write() as s:
        posts.create_post(
            s, actor(people[who]), s.merge(cohort), ANCHOR, text or f"What do you think, @{whom}?"
        )


def outbox(store) -> list[OutboxMessage]:
    with store.read() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def later(minutes: float):
    return clock_at(utcnow() + timedelta(minutes=minutes))


def send(store, mailer):
    return send_due(store, mailer, make_transport(mailer.settings, mailer.data_dir))


# -- templates ---------------------------------------------------------------------------------
def test_every_template_renders_with_sample_values():
    assert check_templates() == []
    digest = render("digest", sample_context("digest"))
    assert digest.subject.startswith("What you missed in")
    assert "stop all email" in digest.html and "https://" in digest.text


def test_a_template_with_an_undefined_variable_fails_loudly():
    env = Environment(
        loader=DictLoader({"reply.txt": "Hi {{ member.nmae }}\n\nbody", "reply.html": "x"}),
        undefined=StrictUndefined,
    )
    with pytest.raises(TemplateProblem, match=r"reply.*nmae"):
        render("reply", sample_context("reply"), env)
    broken = Environment(loader=DictLoader({}), undefined=StrictUndefined)
    assert len(check_templates(broken)) == len(KINDS) == 11  # every kind named


def test_member_text_is_escaped_in_html_mail():
    ctx = sample_context("mention")
    ctx["n"]["excerpt"] = "<script>alert(1)</script> & **bold**"
    rendered = render("mention", ctx)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text  # plain text stays plain


# -- signed unsubscribe links ------------------------------------------------------------------
def test_unsubscribe_token_is_signed_and_the_key_private(tmp_path):
    path = tmp_path / "data" / "signing.key"
    key = load_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path) == key  # created once, then read
    mailer = Mailer(MailSettings(), str(tmp_path / "data"), key_file=str(path))
    token = mailer.unsubscribe_url(42).rsplit("?t=", 1)[1]
    assert token == member_token(key, "unsubscribe", 42)
    assert mailer.member_of(token) == 42
    assert mailer.member_of(token.replace("42.", "43.")) is None
    assert member_of(bytes(32), "unsubscribe", token) is None  # another key
    # a calendar link's signature for the same member does not unsubscribe them
    assert mailer.member_of(f"42.{sign(key, 'calendar', 42)}") is None
    for junk in ("", "42", "x.y", "42.", "9" * 40 + ".abc", "-1.abc", "42.é"):
        assert mailer.member_of(junk) is None
    # digits int() refuses (a 500 before) and other spellings of 42: one spelling only
    signature = token.split(".", 1)[1]
    for odd in ("²", "042", "٤٢", "４２", "0", "+42", " 42"):
        assert mailer.member_of(f"{odd}.{signature}") is None, odd


def test_a_damaged_key_file_is_named_not_replaced(tmp_path):
    path = tmp_path / "signing.key"
    path.write_text("not hex at all\n")
    with pytest.raises(ValueError, match=r"signing\.key: not a signing key"):
        load_key(path)
    assert path.read_text() == "not hex at all\n"


# -- queue and send ----------------------------------------------------------------------------
def test_a_mention_is_emailed_once_with_one_click_unsubscribe(tmp_path, store, cohort, people):
    mention(store, cohort, people)
    with smtp_server() as (inbox, port):
        mailer = mailer_for(tmp_path, port, public_url="https://hub.example.org/services/nbc")
        assert queue_notifications(store, mailer) == 1
        assert queue_notifications(store, mailer) == 0  # a second run: nothing twice
        report = send(store, mailer)
        assert (report.sent, report.failed) == (1, 0)
        assert send(store, mailer).sent == 0
    [msg] = inbox.messages
    assert msg["To"] == "ana@example.org"
    assert "mentioned you" in msg["Subject"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<https://hub.example.org/services/nbc/mail/")
    [row] = outbox(store)
    assert (row.state, row.attempts, row.message_id) == ("sent", 1, msg["Message-ID"])
    text = msg.get_body(("plain",)).get_content()
    assert "What do you think, @ana?" in text


def test_notifications_wait_for_the_delay_and_skip_what_was_read(tmp_path, store, cohort, people):
    mention(store, cohort, people)
    mention(store, cohort, people, whom="chi")
    mailer = mailer_for(tmp_path, notify_delay_minutes=10)
    assert queue_notifications(store, mailer) == 0  # too fresh: maybe read in the notebook
    with store.write() as s:
        s.execute(update(Notification).where(Notification.member_id == people["chi"].id)
                  .values(read_at=utcnow()))  # fmt: skip
    with later(11):
        assert queue_notifications(store, mailer) == 1  # ana's; chi read hers
    with later(60 * 49):
        mention(store, cohort, people, whom="fay")
    with later(60 * 49 + 11):
        assert queue_notifications(store, mailer) == 1  # fay's; ana's old one is not resent


def test_no_mail_for_members_without_email_or_who_opted_out(tmp_path, store, cohort, people):
    with store.write() as s:
        s.execute(update(Member).where(Member.id == people["ana"].id).values(email=None))
        s.execute(update(Member).where(Member.id == people["chi"].id).values(email_pref="none"))
        s.execute(update(Member).where(Member.id == people["fay"].id).values(email_pref="digest"))
    mention(store, cohort, people, text="@ana @chi @fay have a look")
    mailer = mailer_for(tmp_path)
    assert queue_notifications(store, mailer) == 0
    with store.read() as s:
        assert len(s.scalars(select(Notification)).all()) == 3  # all three see it in the notebook


def test_unsubscribing_after_queueing_stops_the_message(tmp_path, store, cohort, people):
    mention(store, cohort, people)
    with smtp_server() as (inbox, port):
        mailer = mailer_for(tmp_path, port)
        queue_notifications(store, mailer)
        with store.write() as s:
            s.execute(update(Member).where(Member.id == people["ana"].id).values(email_pref="none"))
        report = send(store, mailer)
    assert (report.sent, report.skipped, inbox.messages) == (0, 1, [])
    assert outbox(store)[0].state == "skipped"


def test_a_refused_login_names_the_setting_and_loses_nothing(
    tmp_path, store, cohort, people, monkeypatch
):
    mention(store, cohort, people)
    with smtp_server(login=("nbcohort", "right horse")) as (inbox, port):
        mailer = mailer_for(tmp_path, port, smtp_user="nbcohort", smtp_password_env="NBC_PW")
        queue_notifications(store, mailer)
        monkeypatch.setenv("NBC_PW", "wrong staple")
        with pytest.raises(MailConfigError) as refused:
            send(store, mailer)
        assert "c.MailSettings.smtp_user" in str(refused.value)
        assert "NBC_PW" in str(refused.value)
        [row] = outbox(store)
        assert (row.state, row.attempts) == ("queued", 0)  # nothing claimed, nothing lost
        monkeypatch.delenv("NBC_PW")
        with pytest.raises(MailConfigError, match=r"NBC_PW.*is empty"):
            send(store, mailer)
        monkeypatch.setenv("NBC_PW", "right horse")
        assert send(store, mailer).sent == 1
    assert len(inbox.messages) == 1


def test_no_server_names_host_and_port(tmp_path, store, cohort, people):
    from tests.helpers.processes import free_port

    mention(store, cohort, people)
    mailer = mailer_for(tmp_path, free_port())
    queue_notifications(store, mailer)
    with pytest.raises(MailConfigError, match=r"smtp_host and c\.MailSettings\.smtp_port"):
        send(store, mailer)
    assert outbox(store)[0].state == "queued"


def test_a_rejected_recipient_fails_alone(tmp_path, store, cohort, people):
    mention(store, cohort, people, text="@ana and @chi, look")
    with smtp_server(Inbox(refuse={"ana@example.org"})) as (inbox, port):
        mailer = mailer_for(tmp_path, port)
        assert queue_notifications(store, mailer) == 2
        report = send(store, mailer)
        assert (report.sent, report.failed) == (1, 1)
        assert send(store, mailer).sent == 0  # a refusal for good is not retried
    assert inbox.recipients == ["chi@example.org"]
    failed = next(r for r in outbox(store) if r.to_addr == "ana@example.org")
    assert failed.state == "failed" and "refused the recipient ana@example.org: 550" in (
        failed.last_error
    )


def test_a_connection_dropped_mid_message_is_retried_and_delivered_once(
    tmp_path, store, cohort, people
):
    """The server answers DATA and closes while the message comes in: it has no complete
    message, so the client retries it later (a close it notices only after the dot would
    leave it unknown instead: never two copies, never silently dropped)."""
    mention(store, cohort, people)
    with smtp_server(drop_mid_message=1) as (inbox, port):
        mailer = mailer_for(tmp_path, port)
        queue_notifications(store, mailer)
        report = send(store, mailer)
        assert (report.sent, len(inbox.messages)) == (0, 0)
        [row] = outbox(store)
        if report.unknown:  # the close came after the grace: kept for a person, not resent
            assert row.state == "failed" and row.last_error.startswith("unknown outcome")
            return
        assert report.retrying == 1
        assert row.state == "queued" and "before the message was complete" in row.last_error
        assert send(store, mailer).sent == 0  # not due yet: backoff
        with later(2):
            assert send(store, mailer).sent == 1
    assert inbox.ids() == {outbox(store)[0].message_id: 1}


def test_a_connection_dropped_after_the_message_is_never_resent(tmp_path, store, cohort, people):
    mention(store, cohort, people, text="@ana and @chi, look")
    with smtp_server(Inbox(drop_after_dot=1)) as (inbox, port):
        mailer = mailer_for(tmp_path, port, smtp_timeout=3.0)
        queue_notifications(store, mailer)
        report = send(store, mailer)
        assert (report.sent, report.unknown) == (1, 1)  # the next message reconnects
        with later(60 * 24):
            assert send(store, mailer).sent == 0
    assert sorted(inbox.ids().values()) == [1, 1]
    unknown = next(r for r in outbox(store) if r.state == "failed")
    assert unknown.last_error.startswith("unknown outcome")


def test_a_sender_killed_mid_send_leaves_the_message_for_a_person(tmp_path, store, cohort, people):
    mention(store, cohort, people)
    with smtp_server() as (inbox, port):
        mailer = mailer_for(tmp_path, port, sending_timeout_minutes=30)
        queue_notifications(store, mailer)
        with store.write() as s:
            assert claim_next(s) is not None  # claimed and committed; the sender dies here
        assert send(store, mailer).expired == 0  # still within the timeout: left alone
        with later(31):
            report = send(store, mailer)
        assert (report.expired, report.sent, inbox.messages) == (1, 0, [])
    [row] = outbox(store)
    assert row.state == "failed" and "mail server's log" in row.last_error


def test_retries_back_off_and_give_up(tmp_path, store, cohort, people):
    mention(store, cohort, people)
    mailer = mailer_for(tmp_path, max_attempts=3, retry_base_seconds=60)
    queue_notifications(store, mailer)
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "outbox").write_text("a file where the folder should be")
    with pytest.raises(MailConfigError, match="outbox_dir"):
        send(store, mailer)
    from nbcohort.cohorts.mail.outbox import backoff_seconds

    assert [backoff_seconds(n, 60, 3600) for n in (1, 2, 3, 7, 20)] == [60, 120, 240, 3600, 3600]


def test_the_outbox_folder_writes_one_eml_per_message(tmp_path, store, cohort, people):
    mention(store, cohort, people, text="@ana and @chi, look")
    mailer = mailer_for(tmp_path)
    queue_notifications(store, mailer)
    assert send(store, mailer).sent == 2
    files = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    assert len(files) == 2
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["Message-ID"] in {r.message_id for r in outbox(store)}
    assert msg.is_multipart()


def test_send_test_reaches_the_server_and_names_a_wrong_password(tmp_path, monkeypatch):
    with smtp_server(login=("u", "p")) as (inbox, port):
        mailer = mailer_for(tmp_path, port, smtp_user="u", smtp_password_env="NBC_PW")
        monkeypatch.setenv("NBC_PW", "p")
        assert "SMTP via 127.0.0.1" in send_test(
            mailer, make_transport(mailer.settings, ""), "x@y.org"
        )
        monkeypatch.setenv("NBC_PW", "nope")
        with pytest.raises(MailConfigError, match="refused the login of 'u'"):
            send_test(mailer, make_transport(mailer.settings, ""), "x@y.org")
    assert [m["To"] for m in inbox.messages] == ["x@y.org"]


def test_the_closing_dot_is_not_held_back_by_nagle(tmp_path):
    """The dot is a write of its own after the body: with Nagle on, the kernel holds it until
    the server acknowledges the body, which a delayed ACK makes tens of ms per message."""
    import socket

    with smtp_server() as (inbox, port):
        mailer = mailer_for(tmp_path, port)
        transport = make_transport(mailer.settings, "")
        transport.open()
        sock = transport._smtp.sock  # type: ignore[attr-defined]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        send_test(mailer, transport, "x@y.org")  # on that connection
    assert [m["To"] for m in inbox.messages] == ["x@y.org"]


def test_queue_message_for_other_parts_respects_the_setting(tmp_path, store, cohort, people):
    from nbcohort.cohorts.mail import queue_message

    mailer = mailer_for(tmp_path)
    note = sample_context("onboarding")["n"]
    with store.write() as s:
        ana, chi, fay = (s.merge(people[k]) for k in ("ana", "chi", "fay"))
        chi.email_pref, fay.email = "digest", None
        assert queue_message(s, mailer, ana, "onboarding", "onboarding:ana:day-4", n=note)
        assert not queue_message(s, mailer, ana, "onboarding", "onboarding:ana:day-4", n=note)
        assert not queue_message(s, mailer, chi, "onboarding", "onboarding:chi:day-4", n=note)
        assert not queue_message(s, mailer, fay, "onboarding", "onboarding:fay:day-4", n=note)
    [row] = outbox(store)
    assert (row.to_addr, row.subject) == ("ana@example.org", "Introduce yourself")


def test_a_message_that_cannot_be_rendered_stops_only_itself(
    tmp_path, store, cohort, people, monkeypatch, caplog
):
    import nbcohort.cohorts.mail.queue as queue

    mention(store, cohort, people)
    with store.write() as s:  # onboarding data as thin as it may come
        s.add(Notification(member_id=people["chi"].id, kind="onboarding", data={"step": "d4"}))
    real = queue.render

    def broken(kind, context, env=None):
        if kind == "mention":
            raise TemplateProblem("email template 'mention': 'x' is undefined")
        return real(kind, context, env)

    monkeypatch.setattr(queue, "render", broken)
    assert queue_notifications(store, mailer_for(tmp_path)) == 1
    [row] = outbox(store)
    assert (row.kind, row.subject) == ("onboarding", "Your next onboarding step")
    assert "'mention': 'x' is undefined" in caplog.text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_starttls_is_used_and_an_untrusted_certificate_names_the_setting(
    tmp_path, store, cohort, people, monkeypatch
):
    from tests.helpers.smtp import self_signed

    context, cert = self_signed(tmp_path)
    mention(store, cohort, people)
    with smtp_server(tls=context, login=("u", "p")) as (inbox, port):
        mailer = mailer_for(tmp_path, port, smtp_starttls=True, smtp_user="u",
                            smtp_password_env="NBC_PW")  # fmt: skip
        monkeypatch.setenv("NBC_PW", "p")
        queue_notifications(store, mailer)
        with pytest.raises(MailConfigError, match=r"TLS with the SMTP server .* failed"):
            send(store, mailer)  # a certificate no authority signed: refused, nothing sent
        assert outbox(store)[0].state == "queued"
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now trusted, as a private CA is
        assert send(store, mailer).sent == 1
        plain = mailer_for(tmp_path, port, smtp_starttls=False, smtp_user="u",
                           smtp_password_env="NBC_PW")  # fmt: skip
        with pytest.raises(MailConfigError, match=r"c\.MailSettings\.smtp_starttls"):
            send_test(plain, make_transport(plain.settings, ""), "x@y.org")  # TLS required
    assert len(inbox.messages) == 1
