"""``my_data()``, ``my_calendar()`` and ``pulse()`` against a real service, driven as a
member's clicks drive them; offline and headless they are one calm line."""

from __future__ import annotations

import json
import time
import zipfile
from datetime import timedelta

import ipywidgets as w
import pytest
import requests
from sqlalchemy import func, select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import Cohort, Member, PulseAnswer, PulseSurvey, utcnow
from nbcohort.cohorts.services.pulse import open_survey
from nbcohort.widgets import _connection, my_calendar, my_data, pulse
from nbcohort.widgets.my_calendar import MyCalendar
from nbcohort.widgets.my_data import MyData
from nbcohort.widgets.pulse import Pulse

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)


@pytest.fixture
def as_member(monkeypatch, service, tokens):
    def use(username):
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", tokens[username])

    yield use
    _connection.reset()


@pytest.mark.parametrize("make", [my_data, my_calendar, pulse])
def test_offline_and_headless_are_one_calm_line(monkeypatch, make):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    started = time.monotonic()
    widget = make()
    assert isinstance(widget, w.HTML) and "community offline" in widget.value
    assert time.monotonic() - started < 2.5
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    _connection.reset()
    assert "while nbgrader runs" in make().value


def test_my_data_saves_the_zip_then_leaves(as_member, service, tokens, store, people, tmp_path):
    CohortClient(service.url, tokens["ana"], timeout=10).post("module-1/a", "mine")
    as_member("ana")
    widget = my_data(tmp_path)
    assert isinstance(widget, MyData)
    saved = widget.export()
    assert saved is not None and saved.parent == tmp_path and "Saved" in widget.status.value
    posts = json.loads(zipfile.ZipFile(saved).read("posts.json"))
    assert [p["markdown"] for p in posts] == ["mine"]
    widget.confirm.value = "yes"
    widget.leave()
    assert "Type leave" in widget.status.value
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).left_at is None
    widget.confirm.value = "leave"
    widget.leave()
    assert "You have left the cohort" in widget.status.value and widget.download.disabled
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).name == "former member"


def test_my_calendar_shows_my_link_and_gets_a_new_one(as_member, store, people):
    as_member("ana")
    widget = my_calendar()
    assert isinstance(widget, MyCalendar)
    old = widget.url
    assert f"/calendar/{people['ana'].id}/" in old and old in widget.link.value
    assert requests.get(old, timeout=10).status_code == 200
    widget.new_link()  # not confirmed: nothing changes
    assert "Tick the box" in widget.status.value and widget.url == old
    assert requests.get(old, timeout=10).status_code == 200
    widget.confirm.value = True
    widget.new_link()
    assert "A new link" in widget.status.value and widget.url != old
    assert widget.url in widget.link.value and not widget.confirm.value
    assert requests.get(old, timeout=10).status_code == 404
    assert requests.get(widget.url, timeout=10).status_code == 200
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).calendar_link_version == 1


def test_pulse_is_answered_once_from_the_widget(as_member, store, cohort):
    now = utcnow()
    with store.write() as s:
        open_survey(
            s, s.get_one(Cohort, cohort.id), "pulse:w", title="How is it going?",
            questions=["Q1", "Q2", "Q3"], free_text="Anything else?",
            opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=2), min_answers=5,
        )  # fmt: skip
    as_member("ben")
    widget = pulse()
    assert isinstance(widget, Pulse) and "How is it going?" in widget.head.value
    widget.choices[0].value = 4
    widget.submit()
    assert "Choose an answer for every question" in widget.status.value
    widget.choices[1].value, widget.choices[2].value = 2, 5
    widget.text.value = "more clinics please"
    widget.submit()
    assert "your answers are in" in widget.status.value and widget.form.children == ()
    with store.read() as s:
        ours = PulseAnswer.survey_id.in_(
            select(PulseSurvey.id).where(PulseSurvey.cohort_id == cohort.id)
        )
        assert s.scalar(select(func.count()).select_from(PulseAnswer).where(ours)) == 1
        assert s.scalars(select(PulseAnswer.scores).where(ours)).one() == [4, 2, 5]
    as_member("sam")  # a sponsor reads results; no form
    assert pulse().form.children == ()


def test_no_survey_open_says_so(as_member):
    as_member("ben")
    assert "No pulse survey is open" in pulse().status.value


def test_the_discussion_shows_a_removed_post_and_a_former_member(
    as_member, service, tokens, store, people
):
    from nbcohort.cohorts.services.leaving import leave
    from nbcohort.widgets import discussion
    from tests.helpers.community import SYSTEM
    from tests.widgets.test_discussion import every_card

    anchor = "module-1/reading-files"
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    chi = CohortClient(service.url, tokens["chi"], timeout=10)
    top = ana.post(anchor, "Ana's question")
    ana.post(anchor, "Ana's other one")
    chi.post(anchor, "Chi's answer", parent_id=top["id"])
    with store.write() as s:
        leave(s, SYSTEM, s.get_one(Member, people["ana"].id), reason="asked", posts="remove")
    as_member("ben")
    d = discussion(anchor, expanded=True)
    shown = {card.post["id"]: card.body.value for card in every_card(d)}
    assert len(shown) == 3  # the thread keeps its shape
    removed = shown[top["id"]]
    assert "post removed at the author" in removed and "former member" in removed
    assert sum("answer" in v for v in shown.values()) == 1  # the reply to it stays
    assert "Ana" not in " ".join(shown.values()) and "Ana" not in d.summary.description
    ana.close()
    chi.close()
