"""A review round through whichever exchange nbgrader is configured with.

With nbgrader's default (filesystem) exchange a round collects with ``VettedCollect`` and its
packets stay in the round's folder, which the service reads. With the service exchange
(``c.ExchangeFactory.collect`` is ``ServiceCollect`` or a subclass) the instructor's server
may share no folder with the service: a round collects through the service
(``RoundServiceCollect``: the service's own vetted collect, its writes into
``course/submitted/`` recorded so a failed round puts them back) and uploads every packet to
the service (``upload_packets``), which then serves a reviewer's packet from its own store.
A step that fails after uploading some packets withdraws them (``withdraw_packets``):
nothing of a failed open or update stays on the service.
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

__all__ = ["RoundServiceCollect", "upload_packets", "uses_service", "withdraw_packets"]


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


def _exchange(api: NbGraderAPI) -> ServiceExchange:
    return ServiceExchange(
        coursedir=api.coursedir, authenticator=api.authenticator, config=api.config
    )


def _path(assignment: str, packet: str) -> str:
    return f"/assignments/{quote(assignment, safe='')}/packets/{quote(packet, safe='')}"


def upload_packets(api: NbGraderAPI, packets: Path, assignment: str, sent: list[str]) -> None:
    """Upload every packet folder under ``packets`` to the service (one archive each, as the
    course's staff), adding each name to ``sent`` once the service has it (what to withdraw
    should the step fail later). Raises ``ExchangeError`` with the service's reason."""
    exchange = _exchange(api)
    with tempfile.TemporaryDirectory(prefix="nbcohort-packets-") as tmp:
        for folder in sorted(p for p in packets.iterdir() if p.is_dir() and not p.is_symlink()):
            archive = Path(tmp) / "packet.tar"
            try:
                pack_folder(folder, archive)
            except Invalid as exc:
                raise ExchangeError(f"packet {folder.name}: {exc}") from None
            exchange.upload("PUT", _path(assignment, folder.name), archive)
            archive.unlink()
            sent.append(folder.name)


def withdraw_packets(
    api: NbGraderAPI, assignment: str, names: list[str], error: BaseException
) -> None:
    """Withdraw the uploaded packets ``names`` of a step that failed with ``error`` (no round
    uses them). A packet that cannot be withdrawn (the service gone meanwhile) is named in a
    note on ``error``, so the instructor learns what stays behind."""
    exchange = _exchange(api)
    left = []
    for name in names:
        try:
            exchange.call("DELETE", _path(assignment, name))
        except ExchangeError as exc:
            left.append(f"{name} ({exc})")
    if left:
        error.add_note("these packets stay on the service: " + "; ".join(left))
