"""The XSS corpus over every widget and page section, rendered by the kernel against a real
service: no payload leaves its text in the HTML a browser is given, and every payload is
still shown (as text), not silently dropped. The browser leg (``tests/browser/test_xss.py``)
then proves in Chromium that none runs."""

from __future__ import annotations

import html

import ipywidgets as w
import pytest
from sqlalchemy import select

from nbcohort.cohorts.demo_ideas import seed_ideas
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.pages.export import export_page
from nbcohort.widgets import _connection
from tests.helpers.demo_pages import seed_pages
from tests.security.xss import PAYLOADS, escapes, seed_hostile

ANCHOR = "module-1/reading-files"


def _walk(widget: w.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def shown(widget: w.Widget) -> tuple[str, str]:
    """(the HTML of every HTML widget, the text of every text widget) under ``widget``."""
    markup, text = [], []
    for x in _walk(widget):
        if isinstance(x, w.HTML | w.HTMLMath):
            markup.append(x.value)
        elif isinstance(x, w.Label | w.Text | w.Textarea):
            text.append(str(x.value))
        for attr in ("description", "placeholder", "tooltip"):
            text.append(str(getattr(x, attr, "") or ""))
        for option in getattr(x, "_options_labels", ()) or ():
            text.append(str(option))
    return "\n".join(markup), "\n".join(text)


def _widgets(who: str) -> dict[str, w.Widget]:
    import nbcohort.widgets as nbw
    from nbcohort.widgets.community_page import community_page
    from nbcohort.widgets.dashboard import dashboard_page
    from nbcohort.widgets.pages import cohort_page, leader_page

    made = {
        "discussion": nbw.discussion(ANCHOR, page_size=100, expanded=True),
        "library": nbw.library(),
        "notifications": nbw.notifications(),
        "pilots": nbw.pilots(),
        "topics": nbw.topics(),
        "badges": nbw.badges(),
        "charter": nbw.charter(),
        "onboarding": nbw.onboarding(),
        "moderation": nbw.moderation(),
        "nudges": nbw.nudges(),
        "cohort page": cohort_page(),
        "community page": community_page(),
    }
    for words in ("img onerror xss", "script window", "javascript"):
        found = nbw.search(limit=50)
        found.query.value = words  # runs the search: results with snippets of member text
        made[f"search {words!r}"] = found
    if who != "learner":
        made["dashboard page"] = dashboard_page()
        made["leader page"] = leader_page()
    return made


@pytest.fixture
def hostile(store, service):
    demo = seed_pages(store)
    with store.read() as s:
        cohort_id = s.scalars(select(Cohort.id).where(Cohort.slug == demo.slug)).one()
    seed_ideas(store, cohort_id)
    seeded = seed_hostile(store, cohort_id, ANCHOR)
    assert [k for k, n in seeded.items() if n == 0] == []  # every kind of text was reached
    return demo


def test_no_payload_leaves_its_text_and_each_is_shown(hostile, store, service, monkeypatch):
    """As a learner and as an instructor (who sees the staff pages too)."""
    found, everything = {}, []
    for who in ("learner", "instructor"):
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", hostile.tokens[who])
        try:
            made = _widgets(who)
        finally:
            _connection.reset()
        marks = [
            n for n, x in made.items() if n.startswith("search") and "<mark>" in x.results.value
        ]
        assert marks, "no search found the payloads: the snippets went unchecked"
        for name, widget in made.items():
            markup, text = shown(widget)
            if hits := escapes(markup):
                found[f"{who}: {name}"] = hits
            everything += [html.unescape(markup), text]
    with store.read() as s:  # the static export of the pages (``nbcohort pages export``)
        cohort = s.scalars(select(Cohort).where(Cohort.slug == hostile.slug)).one()
        for page in ("cohort", "leader"):
            exported = export_page(s, cohort, page)
            hits = escapes(exported)
            for _ in range(exported.split("<title>")[0].count("<meta")):
                hits.remove("<meta>")  # the kit's own, before the title: charset, CSP
            if hits:
                found[f"export {page}"] = hits
            everything.append(html.unescape(exported))
    assert found == {}
    seen = "\n".join(everything)
    assert [pid for pid in PAYLOADS if pid not in seen] == []
    # Plain text (names, titles) shows whole, as written: nothing was dropped or mangled.
    whole = [pid for pid, payload in PAYLOADS.items() if payload in seen]
    assert sorted(set(PAYLOADS) - set(whole)) == []


# Harmful only to a renderer that turns them into HTML (Markdown, entity decoding, NFKC): as
# text in HTML they are inert, so the check rightly passes them.
ONLY_IF_DECODED = {"X07", "X16", "X19"}


def test_the_check_sees_every_payload_put_into_html_unescaped():
    """The check cannot pass vacuously: each payload pasted raw into an element's text or an
    attribute's value is seen, and escaped (as the widgets do) it is not."""
    for pid, payload in PAYLOADS.items():
        raw = escapes(f"<b>{payload}</b>") + escapes(f'<b title="{payload}">x</b>')
        assert bool(raw) == (pid not in ONLY_IF_DECODED), (pid, raw)
        assert escapes(f'<b title="{html.escape(payload)}">{html.escape(payload)}</b>') == []
    assert len(PAYLOADS) >= 30
