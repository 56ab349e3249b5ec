"""Accessibility in a real browser: axe-core (from the npm registry, installed by dev.py) scans
every Voila page and every widget's DOM in JupyterLab for WCAG 2.1 A/AA rules, and no serious
or critical violation may sit in what nbcohort renders (the cell outputs; JupyterLab's and
Voila's own chrome are theirs). At 200 % zoom the pages reflow instead of scrolling sideways.
The scan first proves it sees a planted violation, so a silent axe cannot pass the test."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.pages import copy_pages
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.graduation import graduate
from tests.browser.conftest import ARTIFACTS, BROWSER, JupyterServer, write_notebook
from tests.helpers.demo_pages import seed_pages
from tests.helpers.graduation import demo_cohort_file_applied

AXE = os.environ.get("NBCOHORT_AXE", "")
pytestmark = [
    *BROWSER,
    pytest.mark.skipif(
        not (AXE and Path(AXE).is_file()),
        reason="axe-core is not installed (dev.py test installs it with npm)",
    ),
]

OURS = ".jp-OutputArea-output"  # what the kernel rendered: nbcohort's widgets and pages
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# What of ours at the current viewport cannot be seen without a sideways scroll: an output
# area wider than the window or wider inside than itself (JupyterLab's output areas scroll
# sideways), or a control (button, box, link) of ours reaching past the window or cut off by a
# box of ours that hides its overflow, or a button whose label its row squeezes ("Sea…"). A
# control inside a box of ours that scrolls (a wide table) is reachable there. [what, its
# text] each.
CUT_OFF = """s => {
  const out = [];
  for (const root of document.querySelectorAll(s)) {
    if (root.offsetParent === null) continue;
    if (root.getBoundingClientRect().right > window.innerWidth + 1) out.push(['output', '']);
    // JupyterLab lets an output area scroll sideways: content wider than it is cut off too
    if (root.scrollWidth > root.clientWidth + 1) out.push(['output scrolls', '']);
    for (const e of root.querySelectorAll('button, input, select, textarea, a, summary')) {
      const r = e.getBoundingClientRect();
      if (e.offsetParent === null || r.width === 0) continue;
      let edge = window.innerWidth, scrolls = false;
      for (let p = e.parentElement; p && p !== root && !scrolls; p = p.parentElement) {
        const x = getComputedStyle(p).overflowX;
        if (x === 'auto' || x === 'scroll') scrolls = true;
        else if (x !== 'visible') edge = Math.min(edge, p.getBoundingClientRect().right);
      }
      const name = (e.textContent || e.placeholder || '').trim().slice(0, 40);
      if (!scrolls && r.right > edge + 1) out.push([e.tagName, name]);
      // a button's own label cut short ("Sea…"): squeezed by its row
      else if (e.tagName === 'BUTTON' && e.scrollWidth > e.clientWidth + 1)
        out.push(['label cut', name]);
    }
  }
  return out;
}"""
# A search row that does not wrap, in a box of ours that hides what overflows: its button
# is cut off at 640 px. CUT_OFF over the page with it, then it is removed again.
PLANT_CUT_OFF = (
    """s => { const box = document.createElement('div');
  box.style.cssText = 'overflow:hidden;width:200px';
  box.innerHTML = '<div style="display:flex;width:600px"><input style="width:180px">'
    + '<button>planted</button></div>';
  [...document.querySelectorAll(s)].find(e => e.offsetParent !== null).appendChild(box);
  const found = ("""
    + CUT_OFF
    + """)(s);
  box.remove();
  return found; }"""
)
# axe.run over the cell outputs (a selector) or one element; [id, impact, help, [targets]] each.
SCAN = """async ([where, tags]) => {
  const context = typeof where === 'string' ? {include: [[where]]} : where;
  const found = await axe.run(context,
    {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return found.violations.map(v => [v.id, v.impact, v.help, v.nodes.map(n => n.target.join(' '))]);
}"""


def serious(page, where: Any = OURS) -> list[list]:
    """The serious and critical violations axe finds under ``where`` (a selector or a
    Playwright element handle)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=AXE)
    found = page.evaluate(SCAN, [where, RULES])
    return [v for v in found if v[1] in ("serious", "critical")]


def proves_it_sees(page, selector: str = OURS) -> None:
    """A button with no name planted in our markup must be reported, then it goes."""
    page.evaluate(
        "s => { const b = document.createElement('button'); b.className = 'nbc-planted';"
        " document.querySelector(s).appendChild(b); }",
        selector,
    )
    ids = {v[0] for v in serious(page, selector)}
    assert "button-name" in ids, ids
    one = page.locator(selector).first.element_handle()  # the form the widget scan uses
    assert "button-name" in {v[0] for v in serious(page, one)}
    page.evaluate("document.querySelector('.nbc-planted').remove()")


def report(name: str, found: list[list]) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(found, indent=1))
    return "\n".join(f"{v[0]} ({v[1]}): {v[2]} at {v[3][:5]}" for v in found)


@pytest.fixture
def demo(store, service):
    return seed_pages(store)


PAGES = {  # page: (who opens it, a heading that says it has rendered)
    "cohort": ("learner", "Active threads"),
    "leader": ("sponsor", "Outcomes"),
    "dashboard": ("instructor", "Members at risk"),
    "community": ("learner", "Ongoing topics"),  # an alumna, once the cohort graduated
}


def _graduated(store, service, demo) -> None:
    """The demo cohort graduates into its community, and an alumna starts a topic."""
    with store.read() as s:
        cohort_id = s.scalars(select(Cohort.id).where(Cohort.slug == demo.slug)).one()
    demo_cohort_file_applied(store, cohort_id)
    with store.write() as s:
        graduate(s, Actor.system(), s.get_one(Cohort, cohort_id))
    alumna = CohortClient(service.url, demo.tokens["learner"], timeout=10)
    alumna.start_topic("after-the-course", "After the course", "What are you working on now?")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_page_has_no_serious_violation_and_reflows_at_200_percent(
    name, tmp_path, store, service, demo, browser
):
    who, heading = PAGES[name]
    if name == "community":
        _graduated(store, service, demo)
    home = tmp_path / "home"
    copy_pages(home / "community")
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens[who]).wait()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(f"{lab.url}/voila/render/community/{name}.ipynb?token={lab.token}",
                  timeout=120_000)  # fmt: skip
        page.get_by_role("heading", name=heading).wait_for(timeout=120_000)
        proves_it_sees(page)
        found = serious(page)
        # 200 % zoom: the CSS viewport halves (1280 -> 640 px); nothing of ours may need a
        # sideways scroll to be read (wide tables scroll inside their own box).
        page.set_viewport_size({"width": 640, "height": 1600})
        page.wait_for_timeout(500)
        overflow = page.evaluate(CUT_OFF, OURS)
        planted = page.evaluate(PLANT_CUT_OFF, OURS)  # the check sees a button cut off
        page.screenshot(path=str(ARTIFACTS / f"zoom-200-{name}.png"), full_page=True)
    finally:
        lab.stop()
    assert found == [], report(f"page-{name}", found)
    assert overflow == []
    assert ["BUTTON", "planted"] in planted and ["INPUT", ""] not in planted


WIDGET_CELLS = [
    "import nbcohort.widgets as nbw",
    "nbw.discussion('module-1/reading-files', expanded=True)",
    "nbw.prompt()",
    "nbw.applied('first-look-checklist')",
    "open('mine.py', 'w').write('print(1)\\n'); nbw.share('mine.py')",
    "nbw.library()",
    "nbw.search()",
    "nbw.notifications()",
    "nbw.onboarding()",
    "nbw.charter()",
    "nbw.badges()",
    "nbw.pulse()",
    "nbw.my_data()",
    "nbw.pilots()",
    "nbw.topics()",  # before graduation: the reason, in words
    "nbw.moderation()",  # a learner: the refusal, in words
    "nbw.nudges()",  # likewise (sponsors and staff)
]


@pytest.mark.parametrize("who", ["learner", "instructor"])  # what each may see and do
def test_every_widget_in_jupyterlab_has_no_serious_violation(who, tmp_path, service, demo, browser):
    home = tmp_path / "home"
    home.mkdir()
    write_notebook(home / "widgets.ipynb", *WIDGET_CELLS)
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens[who]).wait()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{lab.url}/lab/tree/widgets.ipynb?token={lab.token}", timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        # Every widget cell has drawn (ipywidgets' views carry .jupyter-widgets) and the
        # kernel is idle again: the last widget's answer is in.
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length >= n",
            arg=len(WIDGET_CELLS) - 1,
            timeout=120_000,
        )
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        assert errors.count() == 0, errors.all_inner_texts()
        # A view the front end could not draw (e.g. a class shadowing Widget.open) says so.
        assert page.get_by_text("Error displaying widget").count() == 0
        proves_it_sees(page)
        # JupyterLab may render cells out of view lazily: each output is scrolled into view
        # and scanned on its own.
        found, scanned = [], 0
        outputs = page.locator(".jp-Cell .jp-OutputArea-output")
        for i in range(outputs.count()):
            output = outputs.nth(i)
            output.scroll_into_view_if_needed()
            found += serious(page, output.element_handle())
            scanned += 1
        page.screenshot(path=str(ARTIFACTS / f"axe-widgets-{who}.png"))
    finally:
        lab.stop()
    assert scanned >= len(WIDGET_CELLS) - 1
    assert found == [], report(f"widgets-{who}", found)


def _tab_to(page, matches: str, limit: int = 80) -> None:
    """Press Tab until the focused element satisfies the JS predicate ``matches``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {matches})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {matches}")


def test_a_member_can_read_and_post_with_the_keyboard_alone(tmp_path, service, demo, browser):
    """Tab to the thread's line, open it with Enter, write, Tab to Post, Enter: the post is
    in, and no step needed the mouse."""
    home = tmp_path / "home"
    home.mkdir()
    write_notebook(
        home / "thread.ipynb",
        f"import nbcohort.widgets as nbw\nnbw.discussion({'module-1/reading-files'!r})",
    )
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens["learner"]).wait()
    text = "Written with the keyboard alone"
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(f"{lab.url}/voila/render/thread.ipynb?token={lab.token}", timeout=120_000)
        page.locator(".nbc-summary").wait_for(timeout=120_000)
        _tab_to(page, "e.classList.contains('nbc-summary')")
        page.keyboard.press("Enter")
        # The thread's posts and its compose box have drawn before any key goes to them.
        page.locator(".nbc-thread .nbc-card").first.wait_for(timeout=60_000)
        page.locator("textarea[placeholder^='Write in Markdown']").wait_for(timeout=60_000)
        _tab_to(page, "e.tagName === 'TEXTAREA'")
        page.keyboard.type(text)
        _tab_to(page, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Post'")
        page.keyboard.press("Enter")
        page.locator(".nbc-card", has_text=text).wait_for(timeout=60_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "keyboard-post.png"))
        lab.stop()
    posts = CohortClient(service.url, demo.tokens["learner"], timeout=10).thread(
        "module-1/reading-files"
    )["posts"]
    assert any(text in p["html"] and p["author"]["name"] == demo.names["learner"] for p in posts)
