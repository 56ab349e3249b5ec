"""``nbcohort pages export|copy``: the Voila pages outside the hub (one static HTML file) and
inside it (the page notebooks copied where the Jupyter server serves them)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from traitlets import Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.config import MetricsSettings, PagesSettings

__all__ = ["PagesApp", "PagesCopy", "PagesExport"]

PAGES = ("cohort", "leader")


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` whole or not at all (a temporary file, then a rename)."""
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"{target}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PagesExport(NbCohortCommand):
    name = "pages export"
    description = (
        "Write a page as one HTML file that opens with no server and no internet (for "
        "people without a hub account): nbcohort pages export --page leader|cohort FILE.html"
    )
    page = Unicode("leader", help="Which page: leader (the one-pager) or cohort.").tag(config=True)
    aliases = {**common_aliases, "page": "PagesExport.page"}

    def run(self) -> None:
        from nbcohort.cohorts.pages.export import Page, export_page  # altair: slow

        page: Page
        if self.page == "cohort":
            page = "cohort"
        elif self.page == "leader":
            page = "leader"
        else:
            raise CommandError(f"--page must be one of {', '.join(PAGES)}, not {self.page!r}")
        target = Path(self.arg(0, "the HTML file to write (nbcohort pages export FILE.html)"))
        if target.is_dir():
            raise CommandError(f"{target} is a folder; name the HTML file to write")
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            text = export_page(
                s, cohort, page, MetricsSettings(parent=self), PagesSettings(parent=self)
            )
        write_atomically(target, text)
        print(f"wrote {target}: the {self.page} page of {cohort.slug!r} ({len(text) // 1024} KB)")


class PagesCopy(NbCohortCommand):
    name = "pages copy"
    description = (
        "Copy the page notebooks into a folder the Jupyter server serves (a learner's home or "
        "image; PagesSettings.folder under its root): nbcohort pages copy DIR"
    )

    def run(self) -> None:
        from nbcohort.cohorts.pages import copy_pages

        folder = Path(self.arg(0, "the folder to copy the pages into"))
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} is a file, not a folder")
        for path in copy_pages(folder):
            print(f"wrote {path}")


class PagesApp(NbCohortCommand):
    name = "pages"
    description = "The Voila pages: export one as static HTML, copy them into a server's root."
    subcommands = {
        "export": (PagesExport, PagesExport.description),
        "copy": (PagesCopy, PagesCopy.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: export, copy")
