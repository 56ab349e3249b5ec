"""The search widget against a real service, typed into as a member types."""

from __future__ import annotations

import time

import ipywidgets as w
import pytest

from nbcohort.cohorts.client import CohortClient
from nbcohort.widgets import _connection, search
from nbcohort.widgets.search import Search


@pytest.fixture
def as_member(monkeypatch, service, tokens):
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
    started = time.monotonic()
    widget = search()
    assert isinstance(widget, w.HTML) and "community offline" in widget.value
    assert time.monotonic() - started < 2.5
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    _connection.reset()
    assert "while nbgrader runs" in search().value


def test_typing_words_shows_results_by_kind(as_member, service, tokens):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ana.post("module-2/groupby", "Why does <b>groupby</b> drop NaN keys?")
    ana.share("gb.py", b"x", "Groupby cheatsheet", "all the groupby forms")
    ana.close()
    as_member("ben")
    box = search()
    assert isinstance(box, Search)
    box.query.value = "groupby"  # what pressing Enter does
    html = box.results.value
    for section in ("Posts (1)", "Threads (1)", "Artifacts (1)"):  # the thread: its anchor
        assert section in html
    assert "&lt;b&gt;<mark>groupby</mark>&lt;/b&gt;" in html  # member markup stays text
    box.query.value = "zebra"
    assert "Nothing found for zebra" in box.results.value
    box.query.value = '"*'
    assert "at least one word" in box.status.value and box.results.value == ""
    only = search(kind="artifact")
    assert isinstance(only, Search)
    only.query.value = "groupby"
    assert "Artifacts (1)" in only.results.value and "Posts" not in only.results.value
