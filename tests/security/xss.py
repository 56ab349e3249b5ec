"""The XSS corpus (``xss_payloads.txt``), seeded over every kind of member text a screen shows,
and a check of rendered HTML for any payload that could run.

Every dangerous part of a payload carries ``window.__xss``: in a browser the flag tells that it
ran; in HTML, ``window.__xss`` anywhere but in text or an inert attribute (a title, an alt text)
is a payload that escaped its text."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from itertools import cycle
from pathlib import Path

from sqlalchemy import select

from nbcohort.cohorts.models import (
    Artifact,
    Cohort,
    Event,
    Idea,
    Member,
    Pilot,
    PilotUpdate,
    Post,
    Thread,
    utcnow,
)
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.store import Store

__all__ = ["FLAG", "PAYLOADS", "Escapes", "escapes", "seed_hostile"]

FLAG = "window.__xss"
_LINES = (Path(__file__).parent / "xss_payloads.txt").read_text("utf-8").splitlines()
# id -> payload, in the file's order (X01, X02...).
PAYLOADS: dict[str, str] = {
    f"X{i:02d}": line.replace("{id}", f"X{i:02d}")
    for i, line in enumerate((x for x in _LINES if x.strip() and not x.startswith("# ")), 1)
}
# Elements the kit never emits: a browser parses their content by rules of its own (mXSS).
_FOREIGN = {"noscript", "math", "iframe", "object", "embed", "base", "meta", "template", "frame",
            "frameset", "xmp", "plaintext", "noembed", "noframes", "form"}  # fmt: skip
# Attributes whose value a browser never runs or loads.
_INERT = {"title", "alt", "aria-label", "aria-description", "placeholder", "value", "class"}


class Escapes(HTMLParser):
    """Where ``window.__xss`` sits outside text and inert attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._raw: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._raw.append(tag)
        if tag in _FOREIGN:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if FLAG in (value or "") and name not in _INERT and not name.startswith("data-"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if FLAG in name:
                self.found.append(f"<{tag} attribute {name!r}>")

    def handle_endtag(self, tag: str) -> None:
        if self._raw and self._raw[-1] == tag:
            self._raw.pop()

    def handle_data(self, data: str) -> None:
        if self._raw and FLAG in data:
            self.found.append(f"<{self._raw[-1]}>{data[:80]}")


def escapes(html: str) -> list[str]:
    """The places in ``html`` where a payload left its text (empty: none)."""
    parser = Escapes()
    parser.feed(html)
    parser.close()
    if parser._raw and FLAG in parser.rawdata:  # an unclosed <script> or <style> swallowed it
        parser.found.append(f"<{parser._raw[-1]}> unclosed")
    return parser.found


# Member text a screen shows: (model, column, Markdown rendered into this column or None).
_PLAIN = [
    (Member, "name"),
    (Member, "team"),
    (Thread, "title"),
    (Artifact, "title"),
    (Artifact, "filename"),
    (Artifact, "license"),
    (Pilot, "title"),
    (Pilot, "goal"),
    (Pilot, "measure"),
    (Event, "title"),
    (Event, "location"),
    (Idea, "decline_reason"),
]
_MARKDOWN = [
    (Post, "body_md", "body_html"),
    (Artifact, "description", None),
    (PilotUpdate, "body_md", "body_html"),
    (Event, "description", None),
]


def seed_hostile(store: Store, cohort_id: int, anchor: str) -> dict[str, int]:
    """Overwrite the cohort's member text with the corpus, payload after payload, straight in
    the database (as an old import or a bug elsewhere could leave it): what any screen renders
    is then hostile. Markdown columns get the sanitizer's HTML, as the services store it.
    ``anchor``'s thread gets one more post per payload, so one screen shows them all.
    Returns how many values each column received."""
    seeded: dict[str, int] = {}
    with store.write() as s:
        cohort = s.get_one(Cohort, cohort_id)
        cohort.title = PAYLOADS["X01"]
        now = utcnow()
        for day in (1, 2, 3):  # clinics come from the cohort file; their text is shown too
            s.add(Event(cohort_id=cohort_id, title="clinic", starts_at=now + timedelta(days=day),
                        ends_at=now + timedelta(days=day, hours=1), key=f"xss-{day}"))  # fmt: skip
        thread = s.scalars(select(Thread).where(Thread.cohort_id == cohort_id,
                                                Thread.anchor == anchor)).one()  # fmt: skip
        authors = s.scalars(select(Member.id).where(Member.cohort_id == cohort_id)).all()
        for i, _text in enumerate(PAYLOADS.values()):  # one post each in one thread: all shown
            s.add(Post(thread_id=thread.id, author_id=authors[i % len(authors)], body_md="",
                       body_html="", created_at=now - timedelta(minutes=i)))  # fmt: skip
        s.flush()
        texts = list(PAYLOADS.values())
        for n, (model, column, *html) in enumerate([*((m, c) for m, c in _PLAIN), *_MARKDOWN]):
            rows = s.scalars(_in_cohort(model, cohort_id).order_by(model.id)).all()
            # Each column starts elsewhere in the corpus: a payload lands in many kinds of text.
            payloads = cycle(texts[n * 7 % len(texts) :] + texts[: n * 7 % len(texts)])
            for row in rows:
                text = next(payloads)
                if column == "team" and row.role not in ("learner", "champion"):
                    continue
                setattr(row, column, text)
                if html and html[0]:
                    setattr(row, html[0], render_markdown(text))
            seeded[f"{model.__name__}.{column}"] = len(rows)
    return seeded


def _in_cohort(model: type, cohort_id: int):  # type: ignore[no-untyped-def]
    if model is Post:
        return select(Post).join(Thread).where(Thread.cohort_id == cohort_id)
    if model is PilotUpdate:
        return select(PilotUpdate).join(Pilot).where(Pilot.cohort_id == cohort_id)
    return select(model).where(model.cohort_id == cohort_id)
