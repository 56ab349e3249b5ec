"""The "Community" link widgets show: the Voila pages, served by the same Jupyter server
(``PagesSettings``). Light on purpose: a course notebook that shows it does not load the
pages' charting libraries."""

from __future__ import annotations

import html
import os

import ipywidgets as w

from nbcohort.cohorts.config import PagesSettings, load_config

__all__ = ["PAGES", "community_link", "page_url"]

PAGES = {
    "cohort": "Cohort activity",
    "leader": "Leader one-pager",
    "dashboard": "Facilitator dashboard",
    "community": "Community of practice",
}


def page_url(page: str, settings: PagesSettings | None = None) -> str:
    """Where ``page`` (cohort or leader) is served: Voila under this Jupyter server."""
    settings = settings or PagesSettings(config=load_config())
    base = settings.base_url or os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    return f"{base.rstrip('/')}/voila/render/{settings.folder.strip('/')}/{page}.ipynb"


def community_link() -> w.HTML:
    """The "Community" line: each page, opened in a new tab."""
    settings = PagesSettings(config=load_config())
    links = " · ".join(
        f'<a href="{html.escape(page_url(p, settings))}" target="_blank" rel="noopener">{t}</a>'
        for p, t in PAGES.items()
    )
    return w.HTML(
        f'<nav class="nbc-meta nbc-community" aria-label="Community">Community: {links}</nav>'
    )
