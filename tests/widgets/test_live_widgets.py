"""Live widgets against a real service: the kernel's one watcher starts only when a front end
renders a view (ipywidgets' ``_view_count``, set here as a front end's message sets it), keeps
an open thread and the notifications current without any action by the reader, shows a calm
line while the service is down, and stops when the views go. In a real kernel run headless
(nbclient, as nbconvert and papermill run notebooks) it never starts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import nbformat
import pytest
from nbclient import NotebookClient

from nbcohort.cohorts.client import CohortClient
from nbcohort.widgets import discussion, notifications
from nbcohort.widgets._live import watcher
from nbcohort.widgets.discussion import Discussion
from nbcohort.widgets.notifications import Notifications

ANCHOR = "module-1/reading-files"


def eventually(check: Callable[[], bool], seconds: float = 8.0) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def shown():
    """Views 'rendered' by a front end; gone (and the watcher stopped) after the test."""
    widgets = []

    def show(widget):
        widget._view_count = 1  # what a front end sends when it renders a view
        widgets.append(widget)
        return widget

    yield show
    for widget in widgets:
        widget.close()
    eventually(lambda: not watcher().running, 40)


def test_headless_widgets_start_no_watcher(as_member, tokens, service):
    as_member("ana")
    before = {t.name for t in threading.enumerate()}
    d, n = discussion(ANCHOR), notifications()
    assert isinstance(d, Discussion) and isinstance(n, Notifications)
    assert d._view_count == 0 and not watcher().running
    assert "nbcohort-live" not in before | {t.name for t in threading.enumerate()}
    d.close()
    n.close()


def test_an_open_thread_shows_others_posts_replies_and_reactions_live(
    as_member, service, tokens, shown
):
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    first = ben.post(ANCHOR, "first from Ben")
    as_member("ana")
    d = shown(discussion(ANCHOR, expanded=True))
    assert watcher().running
    assert [c.post["id"] for c in d.posts.children] == [first["id"]]
    second = ben.post(ANCHOR, "second from Ben")
    # The cards and then the summary line are redrawn: wait for both (they are two steps).
    eventually(
        lambda: (
            [c.post["id"] for c in d.posts.children] == [first["id"], second["id"]]
            and "2 posts" in d.summary.description
            and "1 unread" in d.summary.description
        )
    )
    ben.post(ANCHOR, "a reply", parent_id=first["id"])
    card = d.posts.children[0]
    eventually(lambda: card.replies is not None and len(card.replies.children) == 1)
    ben.react(second["id"], "helpful")
    eventually(lambda: d.posts.children[1].post["reactions"] == {"helpful": 1})
    assert "helpful</b>" not in d.posts.children[1].body.value  # not Ana's own reaction
    assert "helpful 1" in d.posts.children[1].body.value
    # Ana's own post, written while the watcher runs, shows once.
    d.composer.text.value = "mine"
    d.composer.send_button.click()
    eventually(lambda: d.posts.children[-1].post["author"]["id"] == d.conn.member_id)
    time.sleep(1.5)
    ids = [c.post["id"] for c in d.posts.children]
    assert len(ids) == len(set(ids)) == 3


def test_a_closed_thread_counts_new_posts_in_its_summary(as_member, service, tokens, shown):
    as_member("ana")
    d = shown(discussion(ANCHOR))
    assert d.summary.description.startswith(f"Discussion · {ANCHOR} · no posts yet")
    CohortClient(service.url, tokens["ben"], timeout=10).post(ANCHOR, "hello")
    eventually(lambda: "1 post · 1 unread · latest Ben Okafor" in d.summary.description)
    assert not d.posts.children  # cards are made when the reader opens it
    d.expand()
    assert ["hello" in c.post["html"] for c in d.posts.children] == [True]


def test_a_mention_appears_in_notifications_live(as_member, service, tokens, shown):
    as_member("ana")
    n = shown(notifications())
    assert "0 unread" in n.header.value
    CohortClient(service.url, tokens["ben"], timeout=10).post(ANCHOR, "look @ana")
    eventually(lambda: "1 unread (1 mention)" in n.header.value)
    assert "Ben Okafor mentioned you" in json.dumps([c.outputs for c in _outputs(n)])


def _outputs(widget):
    found, stack = [], [widget]
    while stack:
        node = stack.pop()
        if hasattr(node, "outputs"):
            found.append(node)
        stack.extend(getattr(node, "children", ()))
    return found


def test_the_service_going_down_shows_a_calm_line_and_backs_off(as_member, service, shown):
    as_member("ana")
    d = shown(discussion(ANCHOR))
    service.stop()
    eventually(lambda: "live updates paused: community offline" in d.live_line.value, 40)
    sent = watcher().requests
    time.sleep(3)
    assert watcher().requests - sent <= 1  # backing off, not a tight loop
    assert "Traceback" not in d.live_line.value


def test_the_watcher_stops_when_the_views_go(as_member, service, tokens):
    as_member("ana")
    d = discussion(ANCHOR)
    d._view_count = 1
    assert watcher().running
    d._view_count = 0  # the front end removed the view (the cell's output was cleared)
    CohortClient(service.url, tokens["ben"], timeout=10).post(ANCHOR, "wake it")
    eventually(lambda: not watcher().running, 40)
    d.close()


def test_a_real_kernel_run_headless_starts_no_watcher(as_member, service, tmp_path):
    """nbclient runs the notebook as nbconvert --execute and papermill do: no front end."""
    as_member("ana")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import threading, time\n"
            "from nbcohort.widgets import discussion, notifications\n"
            "from nbcohort.widgets._live import watcher\n"
            f"d = discussion({ANCHOR!r}, expanded=True)\n"
            "display(d)\n"
            "display(notifications())\n"
            "time.sleep(1)\n"
            "print('live:', watcher().running, [t.name for t in threading.enumerate()])\n"
            "print('widget:', type(d).__name__)"
        )
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o["output_type"] == "stream")
    assert "widget: Discussion" in text  # the community was reachable
    assert "live: False" in text and "nbcohort-live" not in text
