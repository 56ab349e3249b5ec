"""Email bodies from Jinja2 templates (package data in ``templates/``): for each kind a plain
text and an HTML template. The first line of the text is the subject.

Templates run with ``StrictUndefined``: a variable a template names and the context lacks is
an error when the message is queued, never an empty hole in a sent email, and
``check_templates`` renders every kind with sample values (the tests and ``nbcohort mail
test`` call it), so a broken template fails there rather than at 3 a.m.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape

__all__ = ["KINDS", "Rendered", "TemplateProblem", "check_templates", "render", "sample_context"]

KINDS = (
    "reply",
    "mention",
    "review",
    "review_assigned",
    "review_received",
    "onboarding",
    "routine",
    "highlights",
    "digest",
    "test",
    "nudges",
)
_BLANKS = re.compile(r"\n{3,}")
PREF_LABELS = {"all": "every notification", "digest": "a digest only", "none": "no email"}


class TemplateProblem(ValueError):
    """A template cannot be rendered; the message names the template and the problem."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("nbcohort.cohorts.mail", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        keep_trailing_newline=True,
        auto_reload=False,  # package data: compiled once per process, never stat'ed again
    )


_ENV = _environment()


def render(kind: str, context: dict[str, Any], env: Environment | None = None) -> Rendered:
    """The subject, text and HTML of a message of ``kind``; TemplateProblem if it cannot be."""
    env = env or _ENV
    try:
        text = env.get_template(f"{kind}.txt").render(context)
        html = env.get_template(f"{kind}.html").render(context)
    except TemplateError as exc:
        raise TemplateProblem(f"email template {kind!r}: {exc}") from None
    subject, _, body = text.partition("\n")
    subject = " ".join(subject.split())
    if not subject:
        raise TemplateProblem(f"email template {kind}.txt: the first line (the subject) is empty")
    return Rendered(subject[:300], _BLANKS.sub("\n\n", body.strip()) + "\n", html)


def sample_context(kind: str) -> dict[str, Any]:
    """Plausible values for every variable the templates of ``kind`` may use."""
    note = {
        "id": 1,
        "kind": kind,
        "headline": "Ben Okafor replied to your post in “Reading a file”",
        "excerpt": "Try `sep=';'` and `encoding='cp1252'`.",
        "by": "Ben Okafor",
        "data": {
            "assignment": "project-1",
            "count": 3,
            "due_at": "2026-12-03T17:00:00+00:00",
            "title": "Introduce yourself",
            "text": "Say hello in the introductions thread.",
            "step": "day-4",
        },
        "link": {"notebook": "module-1/01-loading-data.ipynb", "title": "Reading a file"},
        "url": "https://hub.example.org/hub/user-redirect/lab/tree/module-1/01-loading-data.ipynb",
    }
    return {
        "member": {"name": "Ana Souza", "username": "ana"},
        "cohort": {"title": "Practical pandas, spring 2026"},
        "unsubscribe_url": "https://hub.example.org/services/nbcohort/mail/unsubscribe?t=1.x",
        "pref_label": PREF_LABELS["all"],
        "n": note,
        "since": "Monday 1 December",
        "notifications": [note],
        "more_notifications": 2,
        "new_posts": 12,
        "threads": [{"title": "Reading a file", "posts": 5, "url": note["url"]}],
        "items": [{"title": "Top Tip Tuesday", "text": "Share one tip."}],
        "transport": "smtp via smtp.example.org:587",
        "item": {
            "title": "Top Tip Tuesday",
            "text": "Share one pandas tip that saved you time this week.",
            "html": "<p>Share one pandas tip that saved you time this week.</p>",
            "anchor": "topic/top-tip",
            "url": note["url"],
        },
        "nudges": {
            "count": 3,
            "unanswered": [
                {
                    "author": {"name": "Ben Okafor"},
                    "thread": "Reading a file",
                    "hours": 52,
                    "excerpt": "How do I read a file with a ';' separator?",
                    "url": note["url"],
                }
            ],
            "ideas": [
                {
                    "endorsements": 4,
                    "threshold": 5,
                    "anchor": "module-1/reading-files",
                    "excerpt": "A shared cleaning checklist for our team",
                    "url": None,
                }
            ],
            "pilots": [
                {"title": "Cleaning checklist", "owner": {"name": "Ana"}, "review_on": "2027-03-01"}
            ],
        },
    }


def check_templates(env: Environment | None = None) -> list[str]:
    """Every template that fails with sample values, each with its problem; [] when all work."""
    problems = []
    for kind in KINDS:
        try:
            render(kind, sample_context(kind), env)
        except TemplateProblem as exc:
            problems.append(str(exc))
    return problems
