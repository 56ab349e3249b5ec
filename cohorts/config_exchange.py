"""Settings of the nbgrader exchange as a service (``services/exchange.py``): where the
service keeps the archives (``services/exchange_blobs.py``) and how large an upload may be.
A config section of the one ``jupyter_config.py``, listed with the others in ``config.py``."""

from __future__ import annotations

import os

from traitlets import Enum, Int, Unicode
from traitlets.config import Configurable

__all__ = ["ExchangeSettings"]


class ExchangeSettings(Configurable):
    """The nbgrader exchange through the community service (nbcohort.exchange.service)."""

    store = Enum(
        ["folder", "database"],
        default_value="folder",
        help="Where the service keeps the exchange's archives (released assignments, "
        "submissions, feedback, review packets). 'folder' (the default): each a tar file "
        "under <root>/blobs; quickest, for one service process or replicas that share one "
        "volume. 'database': each in the community database as 1 MiB pieces "
        "(exchange_blob_chunk), written in the unit of work that publishes it; choose it for "
        "several service replicas with no shared volume (Zero to JupyterHub), where root is "
        "then only each replica's scratch space for uploads in flight.",
    ).tag(config=True)
    root = Unicode(
        "",
        help="Folder of the service's exchange: uploads in flight stream to <root>/tmp, and "
        "with store = 'folder' the archives live in <root>/blobs, each a tar file named by "
        "a random id (what each is lives in the database, exchange_file). Empty means "
        "<data_dir>/exchange. Only the service reads and writes it: no learner or "
        "instructor server needs it mounted.",
    ).tag(config=True)
    max_upload_bytes = Int(
        100 * 1024 * 1024,
        min=1024,
        help="Largest archive, in bytes, the service accepts in one exchange upload (a "
        "release, a submission, feedback). A larger one is refused with 413 before its body "
        "is read: at once when Content-Length says so, or as soon as the streamed body "
        "passes the limit. Uploads stream to disk, never whole into memory.",
    ).tag(config=True)

    max_submissions = Int(
        50,
        min=1,
        help="Most submissions the service keeps of one assignment from one learner. One "
        "more is refused (409) naming this setting, before its body is read; raise it for a "
        "course whose learners resubmit often.",
    ).tag(config=True)
    learner_quota_bytes = Int(
        2 * 1024**3,
        min=1024,
        help="Most bytes of submissions, over every assignment, the service keeps for one "
        "learner. A submission that would pass it is refused (409) naming this setting, so "
        "no member can fill the service's disk.",
    ).tag(config=True)

    def folder(self, data_dir: str) -> str:
        """The exchange folder: ``root``, or ``<data_dir>/exchange``."""
        return self.root or os.path.join(data_dir, "exchange")
