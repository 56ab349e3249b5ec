"""The notifications widget against a real service: what is waiting, unread counts, links
to the right notebook and cell, mark-read one and all, and the email setting."""

from __future__ import annotations

import time

import ipywidgets as w
import pytest
from sqlalchemy import select, update

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import Cohort, Member, Notification
from nbcohort.cohorts.services.notifications import notify_members
from nbcohort.widgets import _connection, notifications
from nbcohort.widgets.notifications import Notifications, notebook_href

ANCHOR = "module-1/reading-files"
SECTIONS = {
    ANCHOR: {"notebook": "module-1/01-loading-data.ipynb", "title": "Reading a file",
             "cell": "m1-load-20"},
    "peer_review:project-1": {"notebook": "project-1/project-1.ipynb",
                              "title": "Peer review: project-1", "cell": "9bf206bb"},
}  # fmt: skip


@pytest.fixture
def as_member(monkeypatch, service, tokens, store, cohort, tmp_path):
    with store.write() as s:
        s.get_one(Cohort, cohort.id).settings = {"sections": SECTIONS}
    monkeypatch.chdir(tmp_path)

    def use(username):
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", tokens[username])

    yield use
    _connection.reset()


def html_of(widget) -> str:
    """Every piece of HTML the widget shows, Output widgets included."""
    out = []
    stack = [widget]
    while stack:
        item = stack.pop()
        if isinstance(item, w.HTML):
            out.append(item.value)
        if isinstance(item, w.Output):
            out.extend(o["data"]["text/html"] for o in item.outputs)
        stack.extend(getattr(item, "children", ()))
    return "\n".join(out)


def test_offline_and_headless_are_one_calm_line(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    started = time.monotonic()
    widget = notifications()
    assert time.monotonic() - started < 2.5 and "community offline" in widget.value
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBCOHORT_URL", "http://10.255.255.1:1")
    started = time.monotonic()
    assert "while nbgrader runs" in notifications().value
    assert time.monotonic() - started < 0.5


def test_mentions_replies_and_reviews_with_links_and_mark_read(as_member, service, tokens, store,
                                                               people):  # fmt: skip
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    first = ana.post(ANCHOR, "How do I read a semicolon file?")
    ben.post(ANCHOR, "Use `sep=';'` when you read it", parent_id=first["id"])
    ben.post("module-1/first-look", "@ana what do you check first?")
    with store.write() as s:
        notify_members(
            s,
            "review_assigned",
            {
                people["ana"].id: {
                    "assignment": "project-1",
                    "count": 3,
                    "due_at": "2026-12-03T17:00:00+00:00",
                }
            },
        )
    as_member("ana")
    widget = notifications()
    assert isinstance(widget, Notifications)
    shown = html_of(widget)
    assert "3 unread" in shown
    assert "1 reply" in shown and "1 mention" in shown and "1 review to write" in shown
    assert "Ben Okafor replied to your post in “Reading a file”" in shown
    assert "Use `sep=&#x27;;&#x27;` when you read it" in shown
    assert "Ben Okafor mentioned you in “A first look”" not in shown  # no title: no sections
    assert "Ben Okafor mentioned you in module-1/first-look" in shown
    assert "3 reviews to write for project-1, due 2026-12-03 17:00 UTC" in shown
    # Not found beside this notebook: JupyterLab's own address, at the cell.
    assert 'href="/lab/tree/module-1/01-loading-data.ipynb#cell-id=m1-load-20"' in shown
    assert 'href="/lab/tree/project-1/project-1.ipynb#cell-id=9bf206bb"' in shown
    row = widget.items.children[0]
    row.children[1].click()  # mark the newest one read
    with store.read() as s:
        unread = s.scalars(select(Notification).where(Notification.read_at.is_(None))).all()
    assert len(unread) == 2
    assert "2 unread" in html_of(widget)
    widget.mark_all.click()
    assert "0 unread" in html_of(widget) and "Nothing new." in html_of(widget)
    widget.show_read.value = True
    assert html_of(widget).count('class="nbc-card nbc-reply"') == 3


def test_links_are_relative_when_the_notebook_is_beside_this_one(tmp_path, monkeypatch):
    (tmp_path / "module-1").mkdir()
    (tmp_path / "module-1" / "01-loading-data.ipynb").write_text("{}")
    (tmp_path / "welcome").mkdir()
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "welcome" / "welcome.ipynb"))
    link = dict(SECTIONS[ANCHOR])
    assert notebook_href(link) == "../module-1/01-loading-data.ipynb#cell-id=m1-load-20"
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "module-1" / "02.ipynb"))
    assert notebook_href(link) == "01-loading-data.ipynb#cell-id=m1-load-20"
    monkeypatch.setenv("JPY_SESSION_NAME", "/elsewhere/x.ipynb")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
    assert (
        notebook_href(link)
        == "/user/ana/lab/tree/module-1/01-loading-data.ipynb#cell-id=m1-load-20"
    )
    assert notebook_href({"url": "https://example.org/x"}) == "https://example.org/x"
    assert notebook_href(None) is None


def test_the_email_setting_is_saved_and_absent_without_an_address(as_member, store, people):
    as_member("ana")
    widget = notifications()
    assert widget.email.value == "all" and not widget.email.disabled
    widget.email.value = "digest"
    assert "Saved" in widget.status.value
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).email_pref == "digest"
    with store.write() as s:
        s.execute(update(Member).where(Member.id == people["ben"].id).values(email=None))
    as_member("ben")
    widget = notifications()
    assert widget.email.disabled and "No email address on file" in widget.email_note.value
