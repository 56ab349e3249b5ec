"""How much a learner may keep in the exchange: a learner's server is theirs to script, so
without a cap one member could fill the service's disk with resubmissions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, ExchangeFile
from nbcohort.cohorts.services.errors import Conflict

__all__ = ["SubmissionLimits", "check_quota"]


@dataclass(frozen=True)
class SubmissionLimits:
    """``ExchangeSettings.max_submissions`` and ``learner_quota_bytes``."""

    per_assignment: int
    total_bytes: int


def check_quota(
    session: Session,
    cohort: Cohort,
    member_id: int | None,
    assignment: str,
    limits: SubmissionLimits | None,
    incoming: int = 0,
) -> None:
    """Refuse a submission past either limit, saying which and what to do; ``incoming`` is
    the size of the archive about to be kept (0 before its body is read)."""
    if limits is None or member_id is None:
        return
    mine = (
        ExchangeFile.cohort_id == cohort.id,
        ExchangeFile.kind == "submission",
        ExchangeFile.member_id == member_id,
    )
    count, total = session.execute(
        select(
            func.count().filter(ExchangeFile.assignment == assignment),
            func.coalesce(func.sum(ExchangeFile.size), 0),
        ).where(*mine)
    ).one()
    if count >= limits.per_assignment:
        raise Conflict(
            f"you have submitted {assignment!r} {count} times, the most this exchange keeps "
            "(ExchangeSettings.max_submissions); ask your instructor",
            field="assignment",
        )
    if total + incoming > limits.total_bytes:
        raise Conflict(
            f"your submissions would take {total + incoming} bytes, over your "
            f"{limits.total_bytes} (ExchangeSettings.learner_quota_bytes); ask your instructor",
            field="assignment",
        )
