"""The Voila pages: page notebooks (``cohort.ipynb``, ``leader.ipynb``, ``dashboard.ipynb``,
``community.ipynb``) made of widgets over the member's client, and what renders their content
for both Voila and the static export: ``sections`` (the cohort activity page),
``community_sections`` (the community-of-practice page), ``leader`` (the one-pager),
``charts`` (Vega-Lite specs drawn as SVG, and their tables), ``tables`` (HTML and CSV),
``export`` (one static HTML file; the only module here that reads the services layer, for
the CLI)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["PAGE_NOTEBOOKS", "copy_pages"]

PAGE_NOTEBOOKS = ("cohort.ipynb", "leader.ipynb", "dashboard.ipynb", "community.ipynb")


def copy_pages(folder: Path) -> list[Path]:
    """Write the page notebooks into ``folder`` (created), replacing older copies, so a
    Jupyter server whose root holds ``folder`` serves them with Voila."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PAGE_NOTEBOOKS:
        target = folder / name
        target.write_bytes((files(__package__) / name).read_bytes())
        written.append(target)
    return written
