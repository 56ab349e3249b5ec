"""The Voila pages: page notebooks (``cohort.ipynb``, ``leader.ipynb``, ``dashboard.ipynb``,
``community.ipynb``) made of widgets over the member's client, and ``export`` (one static
HTML file, for the CLI: it reads the services layer and renders with the same display code
as the widgets, ``nbcohort.widgets.display``). What the pages show is the widgets' own code;
nothing under ``nbcohort.widgets`` imports this package."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = ["PAGE_NOTEBOOKS", "VOILA_TEMPLATE", "copy_pages", "with_voila_template"]

PAGE_NOTEBOOKS = ("cohort.ipynb", "leader.ipynb", "dashboard.ipynb", "community.ipynb")
VOILA_TEMPLATE = "nbcohort"  # voila/templates/nbcohort: Voila's lab, without CDN links
_DATA = str(Path(__file__).resolve().parent)  # a Jupyter data folder: voila/templates/...


def with_voila_template(jupyter_path: str) -> str:
    """``jupyter_path`` (a JUPYTER_PATH value) with the folder that holds nbcohort's Voila
    template first, once: Voila finds templates on the Jupyter data path only."""
    parts = [p for p in jupyter_path.split(os.pathsep) if p and p != _DATA]
    return os.pathsep.join([_DATA, *parts])


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
