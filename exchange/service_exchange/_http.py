"""What every class of the service exchange shares: the member's connection to the
community service (the same URL and token the cohorts client uses: ``NBCOHORT_TOKEN``, or
under JupyterHub the user's own ``JUPYTERHUB_API_TOKEN``), archives streamed both ways,
and the service's times written the way nbgrader writes its own."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from dateutil.tz import gettz
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.abc import Exchange
from traitlets import Bool, Float, Unicode

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.exchange_archive import pack_folder
from nbcohort.exchange.learner_files import CopyRules, Refused, copy_tree

__all__ = ["DamagedArchive", "ServiceExchange"]

_CHUNK = 1 << 20


class DamagedArchive(ExchangeError):
    """A download that broke off, or whose bytes are not those the service was given (its
    size and SHA-256 kept since the upload): nothing of it is unpacked."""


class ServiceExchange(Exchange):
    """nbgrader's exchange through the nbcohort service instead of a shared folder."""

    url = Unicode(
        "",
        help="The community service's URL; empty: the cohorts client's (NBCOHORT_URL, "
        "ClientSettings.url, or the ServiceSettings address).",
    ).tag(config=True)
    token = Unicode(
        "",
        help="The member's token; empty: NBCOHORT_TOKEN, or under JupyterHub the user's "
        "own JUPYTERHUB_API_TOKEN, as the cohorts client finds it.",
    ).tag(config=True)
    path_includes_course = Bool(
        False,
        help="As nbgrader's default exchange: fetch into ./<course>/<assignment> rather "
        "than ./<assignment>.",
    ).tag(config=True)
    timeout = Float(120.0, help="Seconds an exchange transfer may take before it is given up.").tag(
        config=True
    )

    # -- the service ------------------------------------------------------------------------
    def _base(self) -> tuple[str, dict[str, str]]:
        """The service's URL and the member's Authorization header."""
        client = CohortClient(url=self.url or None, token=self.token or None, config=self.config)
        client.close()
        if not client.token:
            self.fail("no nbcohort token in this session (NBCOHORT_TOKEN or JupyterHub's)")
        return client.url, {"Authorization": f"token {client.token}"}

    def own_course(self) -> str:
        """The course of the member's own cohort (its slug): what a list without a course
        shows, as JupyterLab's assignment list asks before a course is chosen."""
        root, headers = self._base()
        try:
            resp = requests.get(root + "/api/v1/me", headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            self.fail(f"the nbcohort service is unreachable: {exc}")
        if resp.status_code >= 400:
            self.fail(f"the nbcohort service refused ({resp.status_code}): {resp.text[:200]}")
        return str(resp.json()["cohort"]["slug"])

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request to the exchange's routes; a refusal fails with the service's reason."""
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")
        root, headers = self._base()
        course = quote(self.coursedir.course_id, safe="")
        try:
            resp = requests.request(
                method,
                f"{root}/api/v1/exchange/{course}{path}",
                headers=headers,
                timeout=self.timeout,
                **kwargs,
            )
        except requests.RequestException as exc:
            self.fail(f"the nbcohort service is unreachable: {exc}")
        if resp.status_code >= 400:
            try:
                reason = resp.json().get("message", resp.reason)
            except ValueError:
                reason = resp.text[:200] or resp.reason
            self.fail(f"the nbcohort service refused ({resp.status_code}): {reason}")
        return resp

    def json(self, path: str, **params: str) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v}).json()

    def upload(self, method: str, path: str, archive: Path, **params: str) -> dict[str, Any]:
        with archive.open("rb") as body:  # requests streams a file body
            resp = self.call(method, path, data=body, params=params)
        return dict(resp.json())

    @contextmanager
    def download(self, path: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """The archive at ``path`` in a temporary file, with what the service says of it;
        DamagedArchive unless it arrived whole and as it was uploaded."""
        resp = self.call("GET", path, stream=True)
        meta = json.loads(resp.headers.get("X-Nbcohort-Exchange", "{}"))
        digest, size = hashlib.sha256(), 0
        with tempfile.TemporaryDirectory(prefix="nbcohort-exchange-") as tmp:
            target = Path(tmp) / "archive.tar"
            try:
                with resp, target.open("wb") as out:
                    for chunk in resp.iter_content(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            except requests.RequestException as exc:
                raise DamagedArchive(
                    f"the download of {meta.get('assignment', path)!r} broke off after "
                    f"{size} bytes ({type(exc).__name__}); try again"
                ) from None
            expected = (meta.get("size"), meta.get("sha256"))
            if expected[1] is not None and expected != (size, digest.hexdigest()):
                raise DamagedArchive(
                    f"the archive of {meta.get('assignment', path)!r} is not what was "
                    f"uploaded ({size} of {expected[0]} bytes, or its SHA-256 differs): "
                    "nothing was unpacked; tell your facilitator"
                )
            yield target, meta

    def student_filter(self) -> str:
        """The one student asked for, or "" for all (nbgrader's "*" means all)."""
        student = self.coursedir.student_id
        return "" if student in ("", "*") else student

    def pack(self, src: Path, out: Path) -> None:
        """``src`` as one archive at ``out``, leaving out what nbgrader's course settings
        leave out (ignore, include, max_file_size, max_dir_size); a link, a device or a
        hard link to a file elsewhere fails the step with the reason."""
        cd = self.coursedir
        rules = CopyRules(
            ignore=tuple(cd.ignore),
            include=tuple(cd.include),
            max_file_size=cd.max_file_size,
            max_dir_size=cd.max_dir_size,
        )
        staged = out.parent / "files"
        try:
            copy_tree(src, staged, rules)
            pack_folder(staged, out)
        except (Refused, Invalid) as exc:
            self.fail(f"{src.name}: {exc}")

    # -- times ------------------------------------------------------------------------------
    def stamp(self, iso: str) -> str:
        """The service's time of an archive, as nbgrader writes timestamps."""
        tz = gettz(self.timezone)
        if tz is None:
            self.fail(f"Invalid timezone: {self.timezone}")
        return datetime.fromisoformat(iso).astimezone(tz).strftime(self.timestamp_format)

    @staticmethod
    def quoted(name: str) -> str:
        return quote(name, safe="")
