"""A review round through whichever exchange nbgrader is configured with.

With nbgrader's default (filesystem) exchange a round collects with ``VettedCollect`` and its
packets stay in the round's folder, which the service reads. With the service exchange
(``c.ExchangeFactory.collect`` is ``ServiceCollect`` or a subclass) the instructor's server
may share no folder with the service: a round collects through the service
(``RoundServiceCollect``: the service's own vetted collect, its writes into
``course/submitted/`` recorded so a failed round puts them back) and uploads every packet to
the service (``upload_packets``), which then serves a reviewer's packet from its own store.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nbgrader.apps import NbGraderAPI
from nbgrader.exchange import ExchangeError, ExchangeFactory
from traitlets.config import Config

from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.exchange_archive import pack_folder
from nbcohort.exchange.learner_files import shown
from nbcohort.exchange.service_exchange import ServiceCollect, ServiceExchange
from nbcohort.exchange.vetted_collect import (
    Collection,
    put_back,
    set_aside,
    username_problem,
)

__all__ = ["RoundServiceCollect", "upload_packets", "uses_service"]


def uses_service(config: Config) -> bool:
    """Whether nbgrader's configured collect is the service exchange's."""
    collect = ExchangeFactory(config=config).collect
    return isinstance(collect, type) and issubclass(collect, ServiceCollect)


class RoundServiceCollect(ServiceCollect):
    """The service exchange's collect for a review round: each copy it writes, and the earlier
    copy that one replaced, recorded in ``collection`` (as ``VettedCollect`` does), and each
    refusal recorded with its reason."""

    collection: Collection  # set by whoever starts it

    def _collect_one(self, rec: dict[str, Any], dest: Path) -> bool:
        student = str(rec["student"])
        problem = username_problem(student)
        if problem:
            self.collection.refused[shown(student)] = problem
            return False
        had_folder = dest.parent.exists()
        aside = set_aside(dest)
        if aside is not None:
            self.collection.aside[student] = aside
        if super()._collect_one(rec, dest):
            self.collection.written[student] = dest
            return True
        if aside is not None:
            del self.collection.aside[student]
            put_back(aside)
        elif not had_folder and dest.parent.is_dir():
            shutil.rmtree(dest.parent)  # the folder made for this student's copy
        return False

    def refused(self, student: str, sub_id: int, why: str) -> None:
        super().refused(student, sub_id, why)
        self.collection.refused[shown(student)] = f"not collected: {why}"


def upload_packets(api: NbGraderAPI, packets: Path, assignment: str) -> list[str]:
    """Upload every packet folder under ``packets`` to the service (one archive each, as the
    course's staff); returns their names. Raises ``ExchangeError`` with the service's reason."""
    exchange = ServiceExchange(
        coursedir=api.coursedir, authenticator=api.authenticator, config=api.config
    )
    sent = []
    with tempfile.TemporaryDirectory(prefix="nbcohort-packets-") as tmp:
        for folder in sorted(p for p in packets.iterdir() if p.is_dir() and not p.is_symlink()):
            archive = Path(tmp) / "packet.tar"
            try:
                pack_folder(folder, archive)
            except Invalid as exc:
                raise ExchangeError(f"packet {folder.name}: {exc}") from None
            path = f"/assignments/{quote(assignment, safe='')}/packets/{quote(folder.name)}"
            exchange.upload("PUT", path, archive)
            archive.unlink()
            sent.append(folder.name)
    return sent
