"""A member's calendar feed link can be replaced, and signed links stay out of the access log:
on a real service (and, for the log, a real request to an in-process one), both databases."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from nbcohort.cohorts.api.app import make_app
from nbcohort.cohorts.api.server import BackgroundService
from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.config import ServiceSettings
from nbcohort.cohorts.mail.mailer import UNSUBSCRIBE_PATH
from nbcohort.cohorts.models import Activity, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.calendar_link import calendar_signature, rotate_calendar_link
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.signing import load_key, member_token, sign
from tests.helpers.community import SYSTEM
from tests.helpers.processes import free_port

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

pytestmark = pytest.mark.slow


def client(service, tokens, who):
    return CohortClient(service.url, tokens[who], timeout=10)


def _data_dir(service) -> Path:
    return Path(next(a for a in service.args if a.startswith("--data-dir=")).split("=", 1)[1])


def _answer(url: str) -> tuple[int, str, bytes]:
    got = requests.get(url, timeout=10)
    return got.status_code, got.headers["Content-Type"], got.content


def _unknown(service) -> tuple[int, str, bytes]:
    """What a link to a member who never existed answers (signed with the real key)."""
    key = load_key(_data_dir(service) / "signing.key")
    ghost = 987654321
    return _answer(f"{service.url}/api/v1/calendar/{ghost}/{sign(key, 'calendar', ghost)}.ics")


def test_a_new_link_retires_the_old_one(service, tokens, people):
    ana = client(service, tokens, "ana")
    old = ana.calendar_url()
    assert _answer(old)[0] == 200
    new = ana.new_calendar_url()
    assert new != old and ana.calendar_url() == new
    status, kind, body = _answer(new)
    assert status == 200 and kind.startswith("text/calendar") and b"BEGIN:VCALENDAR" in body
    # the old link answers exactly as a link to nobody does: nothing says ana exists
    assert _answer(old) == _unknown(service)
    assert _answer(old)[0] == 404
    newer = ana.new_calendar_url()
    assert _answer(new) == _unknown(service) and _answer(newer)[0] == 200
    # ben's link is his own: ana's renewals left it working
    ben = client(service, tokens, "ben").calendar_url()
    assert _answer(ben)[0] == 200


def test_a_member_renews_only_their_own_link_and_a_leaver_none(service, store, tokens, people):
    ana_url = client(service, tokens, "ana").calendar_url()
    client(service, tokens, "ben").new_calendar_url()  # the route names no one: ben's own
    assert _answer(ana_url)[0] == 200
    with store.write() as s:
        ana, ben = s.get_one(Member, people["ana"].id), s.get_one(Member, people["ben"].id)
        for who in ("ben", "ivo", "fay"):  # another member, staff included, cannot
            with pytest.raises(Forbidden, match="their own"):
                rotate_calendar_link(s, Actor.of(s.get_one(Member, people[who].id)), ana)
        assert ana.calendar_link_version == 0 and ben.calendar_link_version == 1
    with store.write() as s:
        leave(s, SYSTEM, s.get_one(Member, people["ana"].id), reason="moved team")
    with store.write() as s:
        ana = s.get_one(Member, people["ana"].id)
        for actor in (Actor.of(ana), SYSTEM):
            with pytest.raises(Forbidden, match="left"):
                rotate_calendar_link(s, actor, ana)
    with pytest.raises(ClientError) as refused:  # her token is revoked (or, cached a few
        client(service, tokens, "ana").new_calendar_url()  # seconds more, refused as above)
    assert refused.value.status in (401, 403)
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).calendar_link_version == 0
    assert _answer(ana_url) == _unknown(service)  # a leaver's feed: as unknown as any


def test_the_cli_gives_a_member_a_new_link_and_logs_it(service, store, cohort, people):
    data = _data_dir(service)
    args = [sys.executable, "-m", "nbcohort.cohorts.cli", "events", "url", "ana",
            f"--db-url={service.db_url}", f"--data-dir={data}",
            f"--cohort={cohort.slug}"]  # fmt: skip

    def run(*more: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*args, *more], env=service.env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    def path(done: subprocess.CompletedProcess[str]) -> str:
        return urlsplit(done.stdout.strip()).path

    old = path(run())
    assert path(run()) == old  # asking again changes nothing
    renewed = run("--new")
    assert "old one stops working" in renewed.stderr
    new = path(renewed)
    assert new != old and path(run()) == new
    assert _answer(service.url + old) == _unknown(service)
    assert _answer(service.url + new)[0] == 200
    with store.read() as s:
        logged = s.scalars(
            select(Activity).where(
                Activity.verb == "member.calendar_link", Activity.cohort_id == cohort.id
            )
        ).all()
    assert [(a.member_id, a.object_id, a.data) for a in logged] == [
        (None, people["ana"].id, {"version": 1})
    ]


def test_the_access_log_shows_the_shape_of_signed_links_not_their_secret(store, people, caplog):
    """A real request to the service, its access log line captured."""
    key = b"k" * 32
    settings = ServiceSettings(ip="127.0.0.1", port=free_port())
    app = make_app(store, settings, signing_key=key)
    with store.read() as s:
        ana = s.get_one(Member, people["ana"].id)
        signature = calendar_signature(key, ana.id, ana.calendar_link_version)
    token = member_token(key, "unsubscribe", ana.id)
    caplog.set_level(logging.INFO, logger="tornado.access")
    service = BackgroundService(app, settings).start()
    try:
        feed = requests.get(f"{service.url}/api/v1/calendar/{ana.id}/{signature}.ics", timeout=10)
        assert feed.status_code == 200  # a link that works, and still not in the log
        requests.get(f"{service.url}{UNSUBSCRIBE_PATH}?t={token}&x=1", timeout=10)
        requests.get(f"{service.url}/api/v1/me?access_token={token}", timeout=10)
    finally:
        service.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.access"]
    assert len(lines) == 3, lines
    text = "\n".join(lines)
    assert signature not in text and token not in text and token.split(".")[1] not in text
    assert lines[0].startswith(f"200 GET /api/v1/calendar/{ana.id}/….ics (127.0.0.1) ")
    assert lines[0].endswith("ms")
    assert f"GET {UNSUBSCRIBE_PATH}?t=…&x=1 " in lines[1]
    assert lines[2].startswith("401 GET /api/v1/me?access_token=… ")


def test_an_error_on_a_signed_link_is_logged_without_its_secret(store, people, caplog, monkeypatch):
    """Tornado's own line for an uncaught exception names the request too: a failure while
    the feed is built (forced here, as a bug would) logs the link's shape, not its secret."""
    from nbcohort.cohorts.api.routes import events

    key = b"k" * 32
    settings = ServiceSettings(ip="127.0.0.1", port=free_port())
    app = make_app(store, settings, signing_key=key)
    with store.read() as s:
        ana = s.get_one(Member, people["ana"].id)
        signature = calendar_signature(key, ana.id, ana.calendar_link_version)

    def broken(*_args, **_kw):
        raise RuntimeError("the feed could not be built")

    monkeypatch.setattr(events.calendar, "ics_calendar", broken)
    caplog.set_level(logging.INFO)
    service = BackgroundService(app, settings).start()
    try:
        feed = requests.get(f"{service.url}/api/v1/calendar/{ana.id}/{signature}.ics", timeout=10)
    finally:
        service.stop()
    assert feed.status_code == 500
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Uncaught exception GET /api/v1/calendar/" in text and "….ics" in text
    assert signature not in text
