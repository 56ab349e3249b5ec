"""The charter() and onboarding() widgets against a real service, driven as a learner's
clicks drive them; offline and headless, one calm line; the discussion's onboarding line."""

from __future__ import annotations

import time
from datetime import timedelta

import ipywidgets as w
import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import CharterAck, Cohort, OnboardingStep, utcnow
from nbcohort.cohorts.services.charter import publish_charter
from nbcohort.widgets import _connection, charter, discussion, onboarding
from nbcohort.widgets.charter import Charter
from nbcohort.widgets.discussion import Discussion
from nbcohort.widgets.onboarding import Onboarding
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml


@pytest.fixture
def as_member(monkeypatch, service, tokens, store, cohort, people):
    start = (utcnow() - timedelta(days=3)).date().isoformat()
    apply_text(store, cohort_toml(starts_on=start, timezone="UTC"), utcnow())

    def use(username):
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", tokens[username])

    yield use
    _connection.reset()


def test_offline_and_headless_are_one_calm_line(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    for make in (charter, onboarding):
        started = time.monotonic()
        widget = make()
        assert time.monotonic() - started < 2.5
        assert isinstance(widget, w.HTML) and "community offline" in widget.value
    _connection.reset()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBCOHORT_URL", "http://10.255.255.1:1")
    started = time.monotonic()
    assert "while nbgrader runs" in charter().value
    assert "while nbgrader runs" in onboarding().value
    assert time.monotonic() - started < 0.5


def test_the_charter_widget_records_the_acknowledgement(as_member, store, cohort, people):
    as_member("ana")
    empty = charter()
    assert isinstance(empty, Charter) and "No charter has been published" in empty.body.value
    with store.write() as s:
        publish_charter(s, SYSTEM, s.get_one(Cohort, cohort.id), "# Our charter\n\nAsk early.\n")
    as_member("ana")
    c = charter()
    assert "version 1" in c.head.value and "<h1>Our charter</h1>" in c.body.value
    assert c.ack.layout.display != "none"
    c.ack.click()
    assert "You acknowledged version 1" in c.status.value and c.ack.layout.display == "none"
    with store.read() as s:
        ack = s.scalars(select(CharterAck)).one()
    assert (ack.member_id, ack.version) == (people["ana"].id, 1)
    with store.write() as s:
        publish_charter(s, SYSTEM, s.get_one(Cohort, cohort.id), "# Our charter\n\nAsk anything.\n",
                        "Plainer words")  # fmt: skip
    again = charter()
    assert "What changed since version 1" in again.changes.value
    assert "Plainer words" in again.changes.value and "+Ask anything." in again.changes.value
    again.ack.click()
    assert "version 2" in again.status.value


def test_the_onboarding_widget_shows_the_next_step_and_marks_it_done(as_member, store, people):
    as_member("ana")
    o = onboarding()
    assert isinstance(o, Onboarding)
    assert "Next: Welcome to" in o.summary.value and "Read the charter" in o.summary.value
    assert o.steps.value.count("day ") == 6 and "✔" not in o.steps.value
    o.done.click()
    assert "✔ day 0" in o.steps.value
    with store.read() as s:
        state = s.scalar(
            select(OnboardingStep.state).where(
                OnboardingStep.member_id == people["ana"].id, OnboardingStep.step == "welcome"
            )
        )
    assert state == "done"
    as_member("fay")
    assert "No onboarding for you" in onboarding().summary.value


def test_the_discussion_points_a_member_who_has_not_started_at_the_first_step(
    as_member, store, people
):
    as_member("ana")
    conn = _connection.connect()
    asked: list[str] = []
    conn.client._http.hooks["response"].append(lambda r, *a, **k: asked.append(r.url))
    first, second = discussion("module-1/reading-files"), discussion("module-1/other")
    assert isinstance(first, Discussion) and isinstance(second, Discussion)
    for d in (first, second):
        assert "New here? Your first step: Welcome to" in d.hint.value
        assert d.hint in d.children and "Welcome" not in d.summary.description
    assert sum("/onboarding" in url for url in asked) == 1  # once per kernel, for both
    onboarding().done.click()  # the welcome step: she has started
    as_member("ana")
    assert discussion("module-1/reading-files").hint.value == ""
    as_member("fay")  # staff: no onboarding of their own
    assert discussion("module-1/reading-files").hint.value == ""
    as_member("ben")
    d = discussion("module-1/reading-files", expanded=True)
    assert "Your first step" in d.hint.value
    d.write("Hello, I am Ben")  # writing in the thread starts it: the line goes
    assert d.hint.value == ""
