"""The cohort activity page's sections as HTML, from what the service answered.

Pure functions of the service's answers (the dicts ``CohortClient`` returns), so the Voila
page and the static export (``nbcohort pages export``) show the same thing. Member text is
escaped here; the only HTML taken as is comes from the one sanitizer (``*_html`` fields).
A section whose answer is missing is left out; one the service refused says so in words.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["OPTIONAL", "PAGE_CSS", "Refused", "Section", "activity_sections", "lab_link", "when"]

# Capabilities other parts of the kit add; their section appears once they answer with data.
OPTIONAL = {
    "badges": "Badges",
    "spotlight": "Spotlight",
    "pilots": "Pilots",
    "pulse": "Pulse survey",
}


@dataclass(frozen=True)
class Refused:
    """The service did not answer this part (refused, or not reachable): ``message`` says why,
    ``status`` is its HTTP status (None when it was not reached)."""

    message: str
    status: int | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    html: str


def when(iso: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM' (UTC unless the answer carried a local label)."""
    if not iso:
        return ""
    return html.escape(iso.replace("T", " ")[:16])


def lab_link(base_url: str | None, path: str, text: str) -> str:
    """A link that opens ``path`` (a course notebook, maybe with ``#cell-id=``) in JupyterLab;
    the text alone without a ``base_url`` (a static export has no server to link into)."""
    if base_url is None:
        return html.escape(text)
    notebook, _, cell = path.partition("#")
    href = f"{base_url.rstrip('/')}/lab/tree/{quote(notebook)}" + (
        f"#{quote(cell, safe='=-')}" if cell else ""
    )
    return f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{html.escape(text)}</a>'


def _empty(text: str) -> str:
    return f'<p class="nbc-meta">{html.escape(text)}</p>'


def _list(items: list[str]) -> str:
    return '<ul class="nbc-list">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _rhythm(cadence: dict[str, Any]) -> str:
    today = cadence.get("today") or []
    nxt = (cadence.get("next") or [])[:3]
    if not today and not nxt:
        return _empty("Nothing in the cohort's rhythm this week.")
    parts = []
    if today:
        parts.append("<p><b>Today</b></p>" + _list([_item(e) for e in today]))
    if nxt:
        parts.append("<p><b>Coming up</b></p>" + _list([_item(e) for e in nxt]))
    return "".join(parts)


def _item(entry: dict[str, Any]) -> str:
    label = entry.get("local") or when(entry.get("due_at") or entry.get("starts_at"))
    kind = html.escape(str(entry.get("kind", "")))
    title = html.escape(str(entry.get("title", "")))
    return f'{title} <span class="nbc-meta">· {kind} · {html.escape(str(label))}</span>'


def _threads(threads: list[dict[str, Any]], base_url: str | None) -> str:
    if not threads:
        return _empty("No thread had a new post this week.")
    items = []
    for t in threads:
        link = t.get("link")
        title = str((link or {}).get("title") or t.get("title") or t.get("anchor"))
        name = lab_link(base_url, link["path"], title) if link else html.escape(title)
        items.append(
            f'{name} <span class="nbc-meta">· {t["posts_in_window"]} new of {t["posts"]} posts · '
            f"last {when(t.get('last_post_at'))}</span>"
        )
    return _list(items)


def _artifacts(artifacts: list[dict[str, Any]]) -> str:
    if not artifacts:
        return _empty("No artifact has been shared yet.")
    items = []
    for a in artifacts[:8]:
        tags = ", ".join(html.escape(t) for t in a.get("tags") or [])
        items.append(
            f'<b>{html.escape(str(a["title"]))}</b> <span class="nbc-meta">· '
            f"{html.escape(a['author']['name'])} · {html.escape(str(a.get('license', '')))} · "
            f"reused {int(a.get('reuses') or 0)} times{' · ' + tags if tags else ''} · "
            f"{when(a.get('created_at'))}</span>"
        )
    return _list(items)


def _clinic(events: list[dict[str, Any]]) -> str:
    clinics = [e for e in events if e.get("kind") == "clinic"]
    if not clinics:
        return _empty("No clinic is planned.")
    e = clinics[0]
    where = f" · {html.escape(str(e['location']))}" if e.get("location") else ""
    signups = f" · {int(e['signups'])} signed up" if e.get("signups") is not None else ""
    return (
        f'<p><b>{html.escape(str(e["title"]))}</b> <span class="nbc-meta">· '
        f"{html.escape(str(e.get('local') or when(e.get('starts_at'))))}{where}{signups}</span></p>"
    )


def _charter(charter: dict[str, Any]) -> str:
    if not charter.get("version") and not charter.get("html", "").strip():
        return _empty("The cohort has no charter yet.")
    version = f"version {int(charter['version'])}" if charter.get("version") else ""
    return (
        f"<details><summary>Read the charter {version}</summary>"
        f'<div class="nbc-charter">{charter.get("html", "")}</div></details>'
    )


def _reviews(rounds: list[dict[str, Any]]) -> str:
    if not rounds:
        return _empty("You have no peer reviews to write.")
    items = []
    for r in rounds:
        due = f" · due {when(r['due_at'])}" if r.get("due_at") else ""
        items.append(
            f"<b>{html.escape(str(r['assignment']))}</b>: {int(r['reviews_submitted'])} of "
            f"{int(r['reviews_given'])} reviews submitted "
            f'<span class="nbc-meta">· round {html.escape(str(r["status"]))}{due}</span>'
        )
    return _list(items)


def _optional(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items[:10]:
        name = item.get("title") or item.get("name") or item.get("badge") or ""
        who = item.get("member") or item.get("member_name") or ""
        if isinstance(who, dict):
            who = who.get("name", "")
        text = item.get("summary") or item.get("description") or ""
        lines.append(
            f"<b>{html.escape(str(name))}</b>"
            + (f" · {html.escape(str(who))}" if who else "")
            + (f' <span class="nbc-meta">{html.escape(str(text))}</span>' if text else "")
        )
    return _list(lines)


def activity_sections(data: dict[str, Any], base_url: str | None = "/") -> list[Section]:
    """The page's sections in order; each part the service refused says so, each optional
    capability appears only when it answered with something."""
    plan: list[tuple[str, str, Any]] = [
        ("rhythm", "This week's prompt and routine", _rhythm),
        ("threads", "Active threads", lambda v: _threads(v, base_url)),
        ("artifacts", "New artifacts", _artifacts),
        ("events", "Next clinic", _clinic),
        ("charter", "Our charter", _charter),
        ("reviews", "Your peer reviews", _reviews),
    ]
    out = []
    for key, title, render in plan:
        if key not in data:
            continue
        value = data[key]
        body = (
            _empty(f"Not available: {value.message}")
            if isinstance(value, Refused)
            else render(value)
        )
        out.append(Section(key, title, body))
    for key, title in OPTIONAL.items():
        value = data.get(key)
        if isinstance(value, dict):  # an answer that wraps its list: {"badges": [...]}
            value = value.get(key)
        if isinstance(value, list) and value:
            out.append(Section(key, title, _optional(value)))
    return out


# The pages' own look, shared by the Voila pages and the static export: readable tables,
# focus rings, and text that keeps 4.5:1 contrast.
PAGE_CSS = """
.nbc-page{max-width:980px;font-size:15px;line-height:1.45;color:#1f1f1f}
.nbc-page h1{font-size:24px;margin:8px 0}
.nbc-page h2{font-size:18px;margin:18px 0 6px;border-bottom:1px solid #d0d7e2;padding-bottom:2px}
.nbc-list{margin:4px 0 8px 18px;padding:0}
.nbc-table{border-collapse:collapse;margin:6px 0;font-size:13px}
.nbc-table caption{text-align:left;font-weight:600;padding:2px 0}
.nbc-table th,.nbc-table td{border:1px solid #c8cdd6;padding:3px 8px;text-align:left}
.nbc-numbers summary,.nbc-page details summary{cursor:pointer;color:#174ea6}
.nbc-numbers summary:focus-visible,.nbc-page a:focus-visible{outline:2px solid #1a4fb4}
.nbc-page a{color:#174ea6;text-decoration:underline}
.nbc-lead{font-size:16px;margin:8px 0}
.nbc-meta{font-size:12px;color:#595959}
.nbc-figure{margin:4px 0 16px}
.nbc-chart svg{max-width:100%;height:auto}
"""
