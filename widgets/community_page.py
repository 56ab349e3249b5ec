"""``community_page()``: the community-of-practice page for alumni and everyone after
graduation (``cohorts/pages/community.ipynb``): the cohorts that graduated into the
community, the shared library of all its cohorts (with search, tags, licence and reuse
counts), ongoing topics, pilots and their outcomes (once pilots exist), the events of all its
cohorts, and the member directory (searched by name or team).

It asks the service through the member's own client, so it shows what the service lets that
member see: before graduation the service's reason, in words, and nothing else.
"""

from __future__ import annotations

import html
from contextlib import suppress
from functools import partial
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import CohortClient
from nbcohort.widgets._community_directory import Directory, LibrarySearch
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import style
from nbcohort.widgets.display.community_sections import community_sections
from nbcohort.widgets.display.sections import PAGE_CSS, Refused
from nbcohort.widgets.pages import _ask, _page

__all__ = ["MEMBERS_PER_PAGE", "CommunityPage", "community_page", "gather_community"]

MEMBERS_PER_PAGE = 25


def gather_community(client: CohortClient) -> dict[str, Any]:
    """Everything the page shows, each part as the service answered it (or ``Refused``);
    nothing more is asked of a cohort that has not graduated."""
    data: dict[str, Any] = {"community": _ask(client.community)}
    if isinstance(data["community"], Refused):
        return data
    data["artifacts"] = _ask(client.community_artifacts)  # every cohort of the community
    data["topics"] = _ask(client.topics)
    data["events"] = _ask(lambda: client.community_events(60))
    data["members"] = _ask(lambda: client.community_members(per_page=MEMBERS_PER_PAGE))
    others = [c["slug"] for c in data["community"].get("cohorts", []) if not c.get("mine")]
    data["course_threads"] = [
        t for slug in others for t in _listed_or_none(_ask(partial(client.course_threads, slug)))
    ]
    pilots = getattr(client, "pilots", None)  # pilots (issue #16 part 3) may not exist yet
    if callable(pilots):
        with suppress(TypeError):  # a client method that needs arguments: not this page's
            data["pilots"] = _ask(pilots)
    return data


def _listed_or_none(value: Any) -> list[dict[str, Any]]:
    return value[:5] if isinstance(value, list) else []  # a cohort's five busiest threads


class CommunityPage(w.VBox):
    """The community-of-practice page for the member whose token this kernel holds."""

    def __init__(self, conn: Connection, _settings: Any = None) -> None:
        self.data = gather_community(conn.client)
        me = conn.me["member"]
        community = self.data["community"]
        name = community.get("title", "") if isinstance(community, dict) else ""
        parts: list[w.Widget] = [
            style(),
            w.HTML(
                f"<style>{PAGE_CSS}</style><h1>Community of practice"
                f"{': ' + html.escape(str(name)) if name else ''}</h1>"
                f'<p class="nbc-meta">Seen as {html.escape(me["name"])} '
                f"({html.escape(me['role'])})</p>"
            ),
        ]
        self.sections = community_sections(self.data)
        self.library_search: LibrarySearch | None = None
        self.directory: Directory | None = None
        for section in self.sections:
            if section.key == "members" and isinstance(self.data["members"], dict):
                self.directory = Directory(conn, self.data["members"], MEMBERS_PER_PAGE)
                parts += [w.HTML(f"<section><h2>{section.title}</h2></section>"), self.directory]
                continue
            parts.append(w.HTML(f"<section><h2>{section.title}</h2>{section.html}</section>"))
            if section.key == "artifacts" and not isinstance(self.data["artifacts"], Refused):
                self.library_search = LibrarySearch(conn)  # search the community's library
                parts.append(self.library_search)
        super().__init__(parts, layout=w.Layout(width="100%"))
        self.add_class("nbc-page")


def community_page() -> w.Widget:
    """The community-of-practice page: its cohorts, the library and events of all of them,
    topics, pilots (once they exist) and the member directory; one calm line when the
    community cannot be reached."""
    return _page(CommunityPage)
