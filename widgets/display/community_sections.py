"""The community-of-practice page's sections as HTML, from what the service answered.

Pure functions of the service's answers (the dicts ``CohortClient`` returns), like
``sections.py`` for the cohort activity page. Each section appears only when its data exists;
a community with nothing in it yet says so in words; a cohort that has not graduated gets
the service's reason and nothing else. Member text is escaped here.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from nbcohort.widgets.display.sections import Refused, Section, when

__all__ = ["community_sections", "library_items", "member_items"]


def _p(text: str) -> str:
    return f'<p class="nbc-meta">{html.escape(text)}</p>'


def _list(items: list[str]) -> str:
    return '<ul class="nbc-list">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _cohorts(community: dict[str, Any]) -> str:
    items = []
    for c in community.get("cohorts") or []:
        mine = " (yours)" if c.get("mine") else ""
        items.append(
            f"<b>{html.escape(str(c['title']))}</b>{mine} "
            f'<span class="nbc-meta">· graduated {when(c.get("graduated_at"))[:10]} · '
            f"{int(c.get('alumni') or 0)} alumni</span>"
        )
    return _list(items)


def _cohort_of(item: dict[str, Any]) -> str:
    cohort = item.get("cohort")
    return f" · {html.escape(str(cohort['title']))}" if isinstance(cohort, dict) else ""


def library_items(artifacts: list[dict[str, Any]]) -> str:
    """Artifacts as a list: title, author, cohort (in a community), licence, reuses, tags."""
    items = []
    for a in artifacts:
        tag_text = ", ".join(html.escape(t) for t in a.get("tags") or [])
        items.append(
            f"<b>{html.escape(str(a['title']))}</b> "
            f'<span class="nbc-meta">· {html.escape(a["author"]["name"])}{_cohort_of(a)} · '
            f"licence {html.escape(str(a.get('license', '')))} · reused "
            f"{int(a.get('reuses') or 0)} times{' · ' + tag_text if tag_text else ''}</span>"
        )
    return _list(items)


def _library(artifacts: list[dict[str, Any]]) -> str:
    tags = Counter(t for a in artifacts for t in a.get("tags") or [])
    head = ""
    if tags:
        shown = ", ".join(f"{html.escape(t)} ({n})" for t, n in tags.most_common(12))
        head = f"<p><b>Tags</b>: {shown}</p>"
    ranked = sorted(artifacts, key=lambda a: (-int(a.get("reuses") or 0), str(a["title"])))
    return head + library_items(ranked[:20])


def member_items(directory: dict[str, Any]) -> str:
    """A page of the member directory (members who chose to be listed): name, role, team,
    cohort, skills, badges, shared/applied."""
    items = []
    for m in directory.get("members") or []:
        team = f" · team {html.escape(str(m['team']))}" if m.get("team") else ""
        skills = ", ".join(html.escape(str(k)) for k in m.get("skills") or [])
        badges = ", ".join(html.escape(str(b.get("title") or b["badge"])) for b in m["badges"])
        items.append(
            f"<b>{html.escape(str(m['name']))}</b> "
            f'<span class="nbc-meta">· {html.escape(str(m["role"]))}{team}{_cohort_of(m)} · '
            f"shared {int(m.get('shared') or 0)} · applied {int(m.get('applied') or 0)}"
            f"{' · skills: ' + skills if skills else ''}"
            f"{' · badges: ' + badges if badges else ''}</span>"
        )
    total, page, pages = (int(directory.get(k) or 0) for k in ("total", "page", "pages"))
    if not items and not total and not directory.get("q") and not directory.get("skill"):
        return _p(
            "No member has chosen to be listed yet: the directory shows only members who "
            "tick “List me in the community's member directory”."
        )
    if not items:
        said = f" for {directory['q']!r}" if directory.get("q") else ""
        said += f" with the skill {directory['skill']!r}" if directory.get("skill") else ""
        return _p(f"No member found{said} (page {page} of {pages}).")
    count = f"{total} member{'' if total == 1 else 's'}"
    return _p(f"{count} · page {page} of {pages}") + _list(items)


def _topics(topics: list[dict[str, Any]]) -> str:
    return _list(
        [
            f"<b>{html.escape(str(t['title']))}</b> "
            f'<span class="nbc-meta">· topic/{html.escape(str(t["name"]))} · started in '
            f"{html.escape(str(t['cohort']['title']))} · {int(t['posts'])} posts · last "
            f"{when(t.get('last_post_at'))}</span>"
            for t in topics[:20]
        ]
    )


def _events(events: list[dict[str, Any]]) -> str:
    items = []
    for e in events[:10]:
        where = f" · {html.escape(str(e['location']))}" if e.get("location") else ""
        label = e.get("local") or when(e.get("starts_at"))
        items.append(
            f"<b>{html.escape(str(e['title']))}</b> "
            f'<span class="nbc-meta">· {html.escape(str(e.get("kind", "")))}{_cohort_of(e)} · '
            f"{html.escape(str(label))}{where}</span>"
        )
    return _list(items)


def _course_threads(threads: list[dict[str, Any]]) -> str:
    return _list(
        [
            f"{html.escape(str(t.get('title') or t['anchor']))} "
            f'<span class="nbc-meta">· {html.escape(str(t["cohort"]["title"]))} · read-only · '
            f"{int(t['posts'])} posts · last {when(t.get('last_post_at'))}</span>"
            for t in threads
        ]
    )


def _pilots(pilots: list[dict[str, Any]]) -> str:
    items = []
    for p in pilots[:20]:
        owner = p.get("owner")
        owner_name = owner.get("name", "") if isinstance(owner, dict) else str(owner or "")
        status = p.get("status") or ""
        outcome = p.get("outcome") or ""
        items.append(
            f"<b>{html.escape(str(p.get('title') or p.get('goal') or ''))}</b>"
            + (f" · {html.escape(owner_name)}" if owner_name else "")
            + (f' <span class="nbc-meta">· {html.escape(str(status))}</span>' if status else "")
            + (f"<br>Outcome: {html.escape(str(outcome))}" if outcome else "")
        )
    return _list(items)


def _listed(value: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):  # an answer that wraps its list: {"pilots": [...]}
        value = value.get(key)
    return value if isinstance(value, list) else []


def community_sections(data: dict[str, Any]) -> list[Section]:
    """The page's sections in order (see the module)."""
    community = data.get("community")
    if isinstance(community, Refused) or not isinstance(community, dict):
        reason = community.message if isinstance(community, Refused) else "no answer"
        return [Section("community", "Community of practice", _p(f"Not available: {reason}"))]
    out = [Section("cohorts", "Cohorts in this community", _cohorts(community))]
    plan: list[tuple[str, str, Any]] = [
        ("artifacts", "Artifact library", _library),
        ("topics", "Ongoing topics", _topics),
        ("course_threads", "The other cohorts' course threads", _course_threads),
        ("pilots", "Pilots and their outcomes", _pilots),
        ("events", "Events", _events),
    ]
    for key, title, render in plan:
        value = data.get(key)
        if isinstance(value, Refused):
            out.append(Section(key, title, _p(f"Not available: {value.message}")))
            continue
        rows = _listed(value, key)
        if rows:
            out.append(Section(key, title, render(rows)))
    if len(out) == 1:
        out.append(
            Section(
                "empty",
                "Nothing here yet",
                _p(
                    "This community has no shared artifacts, topics, pilots or events yet. "
                    "Start the first topic with topics() in a notebook."
                ),
            )
        )
    members = data.get("members")
    if isinstance(members, Refused):
        out.append(Section("members", "Members", _p(f"Not available: {members.message}")))
    elif isinstance(members, dict):  # opt-in: shown empty too, where members choose to appear
        out.append(Section("members", "Members", member_items(members)))
    return out
