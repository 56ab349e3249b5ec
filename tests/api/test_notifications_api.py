"""The notifications API, the email setting, the one-click unsubscribe page (no API token,
a signed link), and members' last visits, against ``nbcohort serve``."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.config import MailSettings
from nbcohort.cohorts.mail import Mailer
from nbcohort.cohorts.models import Member, Notification, Prompt, utcnow
from nbcohort.cohorts.services.prompts import sync_prompts
from tests.helpers.community import SYSTEM
from tests.helpers.processes import ServiceProcess

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

ANCHOR = "module-1/reading-files"


def test_the_feed_keeps_its_fields_and_marks_read_one_or_all(service, tokens):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    for n in range(3):
        ben.post(ANCHOR, f"@ana number {n}")
    feed = ana.notification_feed()
    assert feed["unread"] == 3 and feed["unread_by_kind"] == {"mention": 3}
    assert feed["today"] == []
    first = feed["notifications"][0]
    assert {"id", "kind", "post_id", "anchor", "by", "created_at", "read"} <= set(first)
    assert first["headline"] == f"Ben Okafor mentioned you in {ANCHOR}"
    assert first["excerpt"] == "@ana number 2"
    assert ben.mark_notifications_read([first["id"]]) == 0  # not ben's to mark
    assert ana.mark_notifications_read([first["id"]]) == 1
    assert ana.notification_feed()["unread"] == 2
    assert len(ana.notifications(unread_only=False)) == 3
    assert ana.mark_notifications_read() == 2
    assert ana.notification_feed()["unread"] == 0


def test_a_mention_in_an_unopened_prompt_is_listed_without_the_prompt(
    service, tokens, store, cohort
):
    """Staff answer a prompt before it opens: the learner's list names no part of it (its
    title is the prompt's text, its anchor the key) until it opens."""
    secret = "SECRET: What would you cut from the budget?"
    with store.write() as s:
        sync_prompts(s, SYSTEM, s.merge(cohort), {"day-9": secret})
        opens = update(Prompt).where(Prompt.cohort_id == cohort.id)
        s.execute(opens.values(opens_at=utcnow() + timedelta(days=30)))
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    fay = CohortClient(service.url, tokens["fay"], timeout=10)
    fay.answer_prompt("day-9", "Testing before it opens, @ana")
    [note] = ana.notification_feed()["notifications"]
    assert note["headline"] == "Fay Lindqvist mentioned you in a micro-prompt"
    assert (note["anchor"], note["link"], note["excerpt"]) == (None, None, "")
    assert not any(w in str(note) for w in ("SECRET", "budget", "day-9"))
    with store.write() as s:
        s.execute(opens.values(opens_at=utcnow() - timedelta(minutes=1)))
    [note] = ana.notification_feed()["notifications"]
    assert note["headline"] == f"Fay Lindqvist mentioned you in {secret}"
    assert note["anchor"] == "prompt/day-9" and note["excerpt"] == ""  # answers first


def test_bad_input_names_the_field(service, tokens):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    for body in ({"ids": [0]}, {"ids": "1"}, {"ids": [True]}, {"ids": [1] * 501}):
        with pytest.raises(ClientError) as refused:
            ana.request("POST", "/api/v1/notifications/read", json=body)
        assert (refused.value.status, refused.value.field) == (422, "ids")
    for pref in ("weekly", 1, None):
        with pytest.raises(ClientError) as refused:
            ana.request("PUT", "/api/v1/me/email", json={"email_pref": pref})
        assert (refused.value.status, refused.value.field) == (422, "email_pref")
    assert ana.set_email_pref("digest")["email_pref"] == "digest"
    assert ana.me()["member"]["email_pref"] == "digest"


def test_unsubscribe_needs_no_login_and_get_changes_nothing(service, store, people, module_service):
    data = module_service.folder / "data"  # the service's data dir, where its signing key is
    mailer = Mailer(MailSettings(), str(data), public_url=service.url)
    url = mailer.unsubscribe_url(people["ana"].id)
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Stop all email" in page.text
    assert page.headers["Content-Type"].startswith("text/html") and "Server" not in page.headers

    def pref() -> str:
        with store.read() as s:
            return s.get_one(Member, people["ana"].id).email_pref

    assert pref() == "all"  # a mail client that fetched the link changed nothing
    done = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)  # RFC 8058
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert pref() == "none"
    forged = url.replace(f"t={people['ana'].id}.", f"t={people['ben'].id}.")
    for bad in (forged, url + "x", url.split("?")[0], url.split("?")[0] + "?t=" + "9" * 300):
        assert requests.post(bad, timeout=10).status_code == 404
        assert requests.get(bad, timeout=10).status_code == 404
    with store.read() as s:
        assert s.get_one(Member, people["ben"].id).email_pref == "all"


def test_the_public_unsubscribe_link_takes_no_upload(service, module_service, people):
    """Anyone may post to the link: a large body is refused before it is read, and the
    service's memory does not grow by what was announced."""
    data = module_service.folder / "data"
    url = Mailer(MailSettings(), str(data), public_url=service.url).unsubscribe_url(
        people["ben"].id
    )
    path = url.split(service.url, 1)[1]
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n".encode()
            + b"x" * 1000
        )
        answer = b""
        while more := sock.recv(65536):
            answer += more
    text = answer.decode("latin-1")
    assert text.startswith("HTTP/1.1 413") and "Connection: close" in text, text[:300]
    assert "takes no upload" in text


@pytest.fixture
def seen_every_2s(tmp_path, module_service):
    """A service of this test's own, which notes a member's visit every 2 seconds."""
    svc = ServiceProcess(tmp_path, module_service.url)
    svc.args.append("--ServiceSettings.seen_every_seconds=2")
    yield svc.start()
    svc.stop()


def test_last_visit_is_written_once_per_interval(seen_every_2s, tokens, store, people):
    service = seen_every_2s

    def seen():
        with store.read() as s:
            return s.scalar(select(Member.last_seen_at).where(Member.id == people["ana"].id))

    assert seen() is None
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ana.me()
    assert seen() is None  # never a write on the request itself
    for _ in range(60):  # the first write comes one interval after the start
        ana.me()
        if seen() is not None:
            break
        time.sleep(0.1)
    first = seen()
    assert first is not None
    for _ in range(10):
        ana.notification_feed()
    assert seen() == first  # within seen_every_seconds: no write per request
    time.sleep(2.1)
    ana.me()  # noted after the interval: written with the next write
    for _ in range(50):
        if seen() != first:
            break
        ana.me()
        time.sleep(0.1)
    assert seen() > first
    with store.read() as s:
        ours = [m.id for m in people.values()]
        assert s.scalars(select(Notification).where(Notification.member_id.in_(ours))).all() == []
