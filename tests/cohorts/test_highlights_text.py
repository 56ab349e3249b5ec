"""Member text quoted in a post the kit writes (the weekly highlights: authors' names, artifact
and practice titles, the spotlight) stays text: a name cannot become a link, a heading or an
@mention in a post that speaks with the cohort's voice."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from nbcohort.cohorts.sanitize import markdown_text, render_markdown
from nbcohort.cohorts.services.highlights import Highlights

NAME = "[Verify your account](https://phish.example) @ben"
TITLE = "**Free** ![x](https://tracker.example/p.png) `code` <b>"
PRACTICE = "# Heading\n\n> quote [y](https://phish.example)"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag + "".join(f" {k}" for k, _ in attrs if k == "data-member"))


def tags(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_markdown_text_renders_as_exactly_the_text():
    for text in (NAME, TITLE, "a_b*c*", "1. not a list", "\\[x\\]", "x\n\n## y"):
        html = render_markdown(markdown_text(text), {"ben": 2})
        assert tags(html) == ["p"], (text, html)
    assert "phish.example" in render_markdown(markdown_text(NAME))  # kept, as text


def test_names_and_titles_in_the_highlights_stay_text():
    week = Highlights(datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 8, tzinfo=UTC))
    week.posts = [{"id": 1, "excerpt": "“hi”", "anchor": "module-1/first-look",
                   "author": NAME, "reactions": 2, "replies": 0}]  # fmt: skip
    week.artifacts, week.artifact_count = [TITLE], 1
    week.applied = {PRACTICE: 1}
    html = render_markdown(week.markdown(UTC), {"ben": 2})
    assert not [t for t in tags(html) if t.startswith(("a", "img", "h1", "blockquote"))]
    assert "data-member" not in html  # nobody is mentioned by a name
    assert "Verify your account" in html and "Free" in html and "Heading" in html
