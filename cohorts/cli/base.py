"""What every nbcohort command shares: config, the store, the cohort, error reporting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.application import JupyterApp
from traitlets import Unicode

from nbcohort.cohorts import __version__
from nbcohort.cohorts.config import NbCohort, StoreSettings, all_settings_classes

if TYPE_CHECKING:  # the store, models and services load when a command uses them (start-up)
    from nbcohort.cohorts.models import Cohort
    from nbcohort.cohorts.store import Store

__all__ = ["CommandError", "NbCohortCommand", "common_aliases"]

common_aliases: dict[Any, Any] = {
    "cohort": "NbCohort.default_cohort",
    "db-url": "NbCohort.db_url",
    "data-dir": "NbCohort.data_dir",
    "log-level": "Application.log_level",
    "config": "JupyterApp.config_file",
}


class CommandError(Exception):
    """A command cannot go on; the message tells the user what to fix."""


class NbCohortCommand(JupyterApp):
    """Base of every nbcohort command (a JupyterApp, so jupyter_config.py applies)."""

    version = __version__
    raise_config_file_errors = True  # a broken jupyter_config.py is an error, not a warning
    classes = all_settings_classes()
    aliases = common_aliases
    config_file_name = Unicode("nbcohort_config")

    def settings(self) -> NbCohort:
        return NbCohort(parent=self)

    def open_store(self, *, upgrade: bool = False) -> Store:
        """The configured store (the caller closes it); refuses a database older than this
        nbcohort unless ``upgrade``."""
        from nbcohort.cohorts.store import Store

        url = self.settings().resolved_db_url()
        return Store.open(url, StoreSettings(parent=self), upgrade=upgrade)

    @contextmanager
    def store(self, *, upgrade: bool = False) -> Iterator[Store]:
        """``with self.store() as store:`` the configured store, closed at the end."""
        store = self.open_store(upgrade=upgrade)
        try:
            yield store
        finally:
            store.close()

    def course_root(self) -> Path:
        """nbgrader's course directory (``c.CourseDirectory.root``), where course.toml is."""
        from nbgrader.coursedir import CourseDirectory  # nbgrader is slow to import

        return Path(CourseDirectory(config=self.config).root)

    def cohort_slug(self) -> str:
        slug = self.settings().default_cohort
        if not slug:
            raise CommandError("which cohort? pass --cohort SLUG or set c.NbCohort.default_cohort")
        return slug

    def cohort(self, session: Any) -> Cohort:
        from nbcohort.cohorts.services.cohort_registry import get_cohort

        return get_cohort(session, self.cohort_slug())

    def arg(self, index: int, what: str) -> str:
        if len(self.extra_args) <= index:
            raise CommandError(f"missing {what}; see 'nbcohort {self.name} --help'")
        return self.extra_args[index]

    def run(self) -> None:  # pragma: no cover - each command overrides it
        raise NotImplementedError

    def start(self) -> None:
        if self.subapp is not None:
            self.subapp.start()
            return
        from nbcohort.cohorts.services.errors import ServiceError
        from nbcohort.cohorts.store import DatabaseError

        try:
            self.run()
        except (CommandError, ServiceError, DatabaseError) as exc:
            message = exc.message if isinstance(exc, ServiceError) else str(exc)
            print(f"nbcohort {self.name}: error: {message}", file=sys.stderr)
            self.exit(2)
