"""The nbgrader exchange's things for the access-control matrix (tests/api/access_table.py):
an archive to upload, the assignment "ps1" released in both cohorts, and submissions (with or
without feedback) made through the services layer into the service's own exchange folder,
so the service streams them back as it would a learner's."""

from __future__ import annotations

import hashlib
import io
import secrets
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services import exchange
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.exchange_blobs import FolderBlobs

if TYPE_CHECKING:
    from tests.helpers.access import World

__all__ = ["ASSIGNMENT", "TAR", "make_feedback", "make_submission", "open_exchange", "tar_of"]

SYSTEM = Actor.system()
ASSIGNMENT = "ps1"  # released in cohorts A and B by open_exchange()


def tar_of(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar holding ``files`` (name -> content): the exchange's format."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


TAR = tar_of({"p1.ipynb": b"{}"})  # what the matrix uploads (a release, a submission, feedback)


def _publish(
    world: World, s: Session, actor: Actor, cohort: Cohort, kind: str, key: str, data: bytes
) -> int:
    """``data`` published as ``kind`` (release, submission, feedback) by ``actor``: the id of
    its exchange_file row."""
    root = world.exchange_root
    assert root is not None, "open_exchange(world, root) first"
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    temp = root / "tmp" / f"acl-{secrets.token_hex(8)}.part"
    temp.write_bytes(data)
    upload = exchange.Upload(
        temp, len(data), hashlib.sha256(data).hexdigest(), secrets.token_hex(16) + ".tar"
    )
    made = exchange.publish(s, actor, cohort, cohort.slug, kind, key, upload, FolderBlobs(root))
    return int(made["id"])


def open_exchange(world: World, root: Path) -> None:
    """Point ``world`` at the service's exchange folder and release ASSIGNMENT in both
    cohorts, so a submission's answer is about who asks, not what is missing."""
    world.exchange_root = root
    with world.store.write() as s:
        for cohort_id in (world.cohort_a, world.cohort_b):
            cohort = s.get_one(Cohort, cohort_id)
            world.slugs[cohort_id] = cohort.slug
            _publish(world, s, SYSTEM, cohort, "release", ASSIGNMENT, TAR)


def make_submission(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    """A submission of ASSIGNMENT by the actor (a learner or champion): its id."""
    data = tar_of({"p1.ipynb": f'{{"by": "{actor.username}"}}'.encode()})
    return _publish(world, s, actor, cohort, "submission", ASSIGNMENT, data)


def make_feedback(world: World, s: Session, actor: Actor, cohort: Cohort) -> int:
    """A submission by the actor with feedback released on it: the submission's id."""
    sub_id = make_submission(world, s, actor, cohort)
    _publish(world, s, SYSTEM, cohort, "feedback", str(sub_id), tar_of({"p1.html": b"<p>ok</p>"}))
    return sub_id
