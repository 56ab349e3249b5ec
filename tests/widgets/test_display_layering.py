"""The one-way dependency rule for the pages (DESIGN.md: widgets -> cohorts.client; cohorts
never imports widgets, the CLI wiring excepted), read from the code with ``ast`` so paths no
test runs count too: the widgets reach the cohorts package only through its client and its
settings, and under cohorts only the CLI and the pages' static export (the CLI's) import the
widgets' display code."""

from __future__ import annotations

import ast
from pathlib import Path

import nbcohort.cohorts
import nbcohort.widgets

COHORTS = Path(nbcohort.cohorts.__file__).resolve().parent
WIDGETS = Path(nbcohort.widgets.__file__).resolve().parent
WIDGETS_MAY_USE = ("nbcohort.cohorts.client", "nbcohort.cohorts.config")
ABOVE_THE_WIDGETS = ("cli/", "pages/export.py")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_widgets_reach_cohorts_only_through_the_client():
    wrong = [
        f"{path.relative_to(WIDGETS)}: {name}"
        for path in sorted(WIDGETS.rglob("*.py"))
        for name in _imports(path)
        if name.startswith("nbcohort.cohorts") and not name.startswith(WIDGETS_MAY_USE)
    ]
    assert wrong == []
    assert (WIDGETS / "display" / "sections.py").is_file()  # the scan saw the display code


def test_cohorts_import_widgets_only_above_them():
    users = sorted(
        str(path.relative_to(COHORTS))
        for path in COHORTS.rglob("*.py")
        if any(n.startswith("nbcohort.widgets") for n in _imports(path))
    )
    assert users, "the static export renders with the widgets' display code"
    wrong = [u for u in users if not u.startswith(ABOVE_THE_WIDGETS)]
    assert wrong == []
