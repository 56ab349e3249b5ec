"""``nbcohort exchange check``: the exchange's archives against its rows, and what a crash
left behind (``services/exchange_sweep.py``)."""

from __future__ import annotations

from pathlib import Path

from traitlets import Bool, Float

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.config_exchange import ExchangeSettings
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.exchange_blobs import blob_store
from nbcohort.cohorts.services.exchange_sweep import check_exchange

__all__ = ["ExchangeApp", "ExchangeCheck"]


class ExchangeCheck(NbCohortCommand):
    name = "exchange check"
    description = (
        "Check the service's exchange: every archive row against its archive, and the "
        "archive folder against the rows. Reports archives that are missing; with --fix "
        "removes archive files no row names and unfinished uploads, once older than "
        "--older-than hours. Links, folders and names the service never gives are reported "
        "and left alone. Exits 1 when something is missing or left to fix."
    )
    fix = Bool(False, help="Remove orphaned archive files and unfinished uploads.").tag(config=True)
    older_than = Float(
        24.0,
        help="Hours a file must be old before --fix removes it: younger ones may be uploads "
        "still on their way. Go below an hour only with the service stopped: an archive it "
        "is publishing has no row yet. An archive removed while the check runs can show as "
        "missing: run it again.",
    ).tag(config=True)
    aliases = {**common_aliases, "older-than": "ExchangeCheck.older_than"}
    flags = {"fix": ({"ExchangeCheck": {"fix": True}}, "Remove what is orphaned.")}

    def run(self) -> None:
        if not self.older_than >= 0:
            raise CommandError(f"--older-than must be 0 or more hours, not {self.older_than}")
        settings, data_dir = ExchangeSettings(parent=self), self.settings().data_dir
        root = Path(settings.folder(data_dir))
        with self.store() as store, store.read(snapshot=True) as s:
            report = check_exchange(
                s,
                Actor.system(),
                blob_store(settings, data_dir),
                root,
                grace_seconds=self.older_than * 3600,
                fix=self.fix,
            )
        print(f"exchange at {root} ({settings.store} store)")
        for line in report.lines(fix=self.fix):
            print(f"  {line}")
        if report.missing or (not self.fix and not report.clean):
            self.exit(1)


class ExchangeApp(NbCohortCommand):
    name = "exchange"
    description = "The service's exchange of archives."
    subcommands = {"check": (ExchangeCheck, ExchangeCheck.description)}

    def run(self) -> None:
        raise CommandError("choose: check (nbcohort exchange --help)")
