"""The pulse survey: a short recurring survey (Likert 1-5 questions and one free text).

The cadence opens each run from the cohort file (``[cadence.pulse]``, item ``pulse:<date>``,
``open_survey``). Who answered and what was answered are stored apart: ``PulseResponse``
(member, survey, time) says only that a member answered, so they cannot answer twice;
``PulseAnswer`` (scores, text) has no member, no time and a random key. Rows are stored in
the order they were written (SQLite's rowid, PostgreSQL's ctid), so each answer rewrites
the survey's answers in a fresh random order with fresh keys, in the same transaction
(``_reshuffle``): nothing a SQL query can read on ``pulse_answer`` (columns, rowid, ctid,
xmin) follows the order in which members answered. What this does not cover: someone who
copies the database between two answers can tell the answer added between them (and
``pulse_response`` says who answered in that span); deleted rows may linger in the database
files, SQLite's WAL and PostgreSQL's dead tuples until overwritten or vacuumed, and in
backups. A second answer is refused (409), never merged.

Results (``survey_results``): a survey's numbers are shown only once it has closed (an open
survey's totals would change with each new answer and tell on it) and only when at least
the threshold answered (``threshold``: the largest of ``PrivacySettings.pulse_min_answers``,
``MetricsSettings.min_group`` and the survey's own ``min_answers``, never below 3). Below it,
everyone, staff included, sees only that the result is withheld and why. Every member of the
cohort (and its sponsors) sees the aggregates: per question the number of answers, the mean
and the count at each level; a level count below ``SMALL_CELL`` (3) is ``None`` for all but
staff (``roster.manage``), and so is the next smallest count when the hidden ones could be
worked out from the total (``_shown_levels``). The free-text answers, without names and in
alphabetical order, are for staff and sponsors.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import MetricsSettings, PrivacySettings
from nbcohort.cohorts.models import Cohort, PulseAnswer, PulseResponse, PulseSurvey, utcnow
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Invalid, NotFound
from nbcohort.cohorts.services.unique import add_unique

__all__ = [
    "MAX_TEXT",
    "SCALE",
    "SMALL_CELL",
    "answer_survey",
    "current_survey",
    "open_survey",
    "survey_results",
    "threshold",
]

SCALE = (1, 2, 3, 4, 5)
SMALL_CELL = 3  # MetricsSettings.min_group's floor: fewer people than this tell on someone
_RANDOM = random.SystemRandom()
MAX_TEXT = 2000


def open_survey(
    session: Session,
    cohort: Cohort,
    key: str,
    *,
    title: str,
    questions: Sequence[str],
    free_text: str,
    opens_at: datetime,
    closes_at: datetime,
    min_answers: int,
) -> PulseSurvey:
    """The survey run ``key`` of ``cohort``, created once (the cadence publishes it)."""
    found = session.scalar(
        select(PulseSurvey).where(PulseSurvey.cohort_id == cohort.id, PulseSurvey.key == key)
    )
    if found is not None:
        return found
    if not 3 <= len(questions) <= 5:
        raise Invalid("a pulse survey has three to five questions", field="questions")
    if closes_at <= opens_at:
        raise Invalid("a pulse survey closes after it opens", field="closes_at")
    survey = PulseSurvey(
        cohort_id=cohort.id,
        key=key,
        title=title,
        questions=list(questions),
        free_text=free_text,
        opens_at=opens_at,
        closes_at=closes_at,
        min_answers=max(3, min_answers),
    )
    session.add(survey)
    session.flush()
    record(session, cohort.id, None, "pulse.open", survey, key=key)
    return survey


def threshold(
    survey: PulseSurvey,
    settings: PrivacySettings | None = None,
    metrics: MetricsSettings | None = None,
) -> int:
    """How many answers a survey needs before any result of it is shown: the metrics'
    ``min_group`` too, so raising it for the cohort's numbers raises it here."""
    floor = (settings or PrivacySettings()).pulse_min_answers
    group = (metrics or MetricsSettings()).min_group
    return max(SMALL_CELL, floor, group, survey.min_answers)


def _survey(session: Session, actor: Actor, cohort: Cohort, survey_id: int) -> PulseSurvey:
    survey = session.get(PulseSurvey, survey_id)
    if survey is None or survey.cohort_id != cohort.id or actor.cohort_id not in (None, cohort.id):
        raise NotFound(f"no pulse survey {survey_id}", field="survey_id")
    return survey


def _answered(session: Session, survey_id: int, member_id: int | None) -> bool:
    return member_id is not None and (
        session.scalar(
            select(PulseResponse.id).where(
                PulseResponse.survey_id == survey_id, PulseResponse.member_id == member_id
            )
        )
        is not None
    )


def current_survey(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    """The survey open now (the latest, if runs overlap), and whether the actor answered."""
    require(actor, "cohort.read", cohort.id)
    now = utcnow()
    survey = session.scalar(
        select(PulseSurvey)
        .where(
            PulseSurvey.cohort_id == cohort.id,
            PulseSurvey.opens_at <= now,
            PulseSurvey.closes_at > now,
        )
        .order_by(PulseSurvey.opens_at.desc())
        .limit(1)
    )
    if survey is None:
        return {"survey": None, "answered": False, "may_answer": False}
    return {
        "survey": {
            "id": survey.id,
            "key": survey.key,
            "title": survey.title,
            "questions": list(survey.questions),
            "free_text": survey.free_text,
            "scale": list(SCALE),
            "closes_at": survey.closes_at.isoformat(),
        },
        "answered": _answered(session, survey.id, actor.member_id),
        "may_answer": actor.can("pulse.answer"),
    }


def answer_survey(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    survey_id: int,
    scores: Sequence[int],
    text: str = "",
) -> dict[str, Any]:
    """Record the actor's answer: one per member and survey, while it is open."""
    require(actor, "pulse.answer", cohort.id)
    survey = _survey(session, actor, cohort, survey_id)
    now = utcnow()
    if now < survey.opens_at:
        raise Conflict(f"pulse survey {survey_id} is not open yet", field="survey_id")
    if now >= survey.closes_at:
        raise Conflict(
            f"pulse survey {survey_id} closed at {survey.closes_at:%Y-%m-%d %H:%M} UTC",
            field="survey_id",
        )
    if len(scores) != len(survey.questions):
        raise Invalid(
            f"scores must hold one answer per question ({len(survey.questions)})",
            field="scores",
        )
    for i, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCALE:
            raise Invalid(
                f"scores[{i}] must be a whole number from 1 to 5, not {score!r}", field="scores"
            )
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise Invalid(f"text is limited to {MAX_TEXT} characters", field="text")
    member_id = actor.member_id
    if member_id is None:
        raise Invalid("only a member answers a pulse survey", field="member")
    _row, created = add_unique(
        session,
        PulseResponse(survey_id=survey.id, member_id=member_id, at=now),
        lambda: session.scalar(
            select(PulseResponse).where(
                PulseResponse.survey_id == survey.id, PulseResponse.member_id == member_id
            )
        ),
    )
    if not created:
        raise Conflict(
            "you have answered this pulse survey already (answers are kept without your "
            "name, so they cannot be changed)",
            field="survey_id",
        )
    _reshuffle(session, survey.id, (list(scores), text.strip()))
    record(session, cohort.id, member_id, "pulse.answer", survey)
    session.flush()
    return {"survey_id": survey.id, "answered": True}


def _reshuffle(session: Session, survey_id: int, new: tuple[list[int], str]) -> None:
    """Write the survey's answers, ``new`` among them, again in a random order with new
    random keys: rows sit in the order they were inserted, so appending would line answers
    up with ``pulse_response.at`` and the activity log. The survey row is locked, so two
    answers at once on PostgreSQL each rewrite the other's (not a stale list); FOR NO KEY
    UPDATE, since this transaction's ``PulseResponse`` already holds a key-share lock on it
    (its foreign key), which FOR UPDATE would wait on in the other answer: a deadlock."""
    session.execute(
        select(PulseSurvey.id).where(PulseSurvey.id == survey_id).with_for_update(key_share=True)
    )
    session.flush()
    conn = session.connection()
    rows = [
        (list(scores), text)
        for scores, text in conn.execute(
            select(PulseAnswer.scores, PulseAnswer.text).where(PulseAnswer.survey_id == survey_id)
        )
    ]
    rows.append(new)
    _RANDOM.shuffle(rows)
    conn.execute(delete(PulseAnswer).where(PulseAnswer.survey_id == survey_id))
    conn.execute(  # one statement: its rows go in in the shuffled order
        insert(PulseAnswer).values(
            [
                {"id": secrets.token_hex(16), "survey_id": survey_id, "scores": s, "text": x}
                for s, x in rows
            ]
        )
    )


def survey_results(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    settings: PrivacySettings | None = None,
    limit: int = 52,
    metrics: MetricsSettings | None = None,
) -> dict[str, Any]:
    """The cohort's pulse results over time, oldest first, as ``actor`` may see them."""
    require(actor, "pulse.results", cohort.id)
    comments_allowed = actor.can("pulse.comments")
    staff = actor.can("roster.manage")
    now = utcnow()
    surveys = list(
        session.scalars(
            select(PulseSurvey)
            .where(PulseSurvey.cohort_id == cohort.id, PulseSurvey.opens_at <= now)
            .order_by(PulseSurvey.opens_at.desc())
            .limit(limit)
        )
    )[::-1]
    counts = dict(
        session.execute(
            select(PulseAnswer.survey_id, func.count())
            .where(PulseAnswer.survey_id.in_([s.id for s in surveys]))
            .group_by(PulseAnswer.survey_id)
        ).all()
    )
    runs = []
    series: dict[str, list[dict[str, Any]]] = {}
    for survey in surveys:
        need, n = threshold(survey, settings, metrics), int(counts.get(survey.id, 0))
        run: dict[str, Any] = {
            "key": survey.key,
            "title": survey.title,
            "opens_at": survey.opens_at.isoformat(),
            "closes_at": survey.closes_at.isoformat(),
            "min_answers": need,
            "withheld": None,
            "questions": [{"question": q} for q in survey.questions],
            "free_text": survey.free_text,
            "comments": None,
        }
        if now < survey.closes_at:
            run["withheld"] = "open: results are shown once the survey has closed"
        elif n < need:
            run["withheld"] = (
                f"fewer than {need} members answered: no result is shown, so that no "
                "one's answer can be told apart"
            )
        else:
            run["answers"] = n
            run["questions"], comments = _aggregate(session, survey, staff)
            if comments_allowed:
                run["comments"] = comments
        runs.append(run)
        for q in run["questions"]:  # a withheld run is a gap in the series (mean None)
            series.setdefault(q["question"], []).append(
                {"key": survey.key, "closes_at": run["closes_at"], "mean": q.get("mean")}
            )
    return {"surveys": runs, "series": series, "comments_visible": comments_allowed}


def _aggregate(
    session: Session, survey: PulseSurvey, staff: bool
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    questions = list(survey.questions)
    levels = [dict.fromkeys(SCALE, 0) for _ in questions]
    texts: list[str] = []
    for scores, text in session.execute(
        select(PulseAnswer.scores, PulseAnswer.text).where(PulseAnswer.survey_id == survey.id)
    ):
        for i, score in enumerate(scores[: len(questions)]):
            if score in SCALE:
                levels[i][score] += 1
        if text:
            texts.append(text)
    out = []
    for q, level in zip(questions, levels, strict=True):
        n = sum(level.values())
        mean = round(sum(k * v for k, v in level.items()) / n, 2) if n else None
        levels_shown: dict[str, int | None] = (
            {str(k): level[k] for k in SCALE} if staff else _shown_levels(level)
        )
        out.append({"question": q, "n": n, "mean": mean, "levels": levels_shown})
    comments = [{"text": t, "html": render_markdown(t)} for t in sorted(texts, key=str.casefold)]
    return out, comments


def _shown_levels(level: dict[int, int]) -> dict[str, int | None]:
    """The count per level as a member sees it: ``None`` for each below ``SMALL_CELL`` (zero
    too, so a hidden one is not known to be one or two), and for the next smallest while the
    hidden ones' total (the answers less the counts shown) would pin them down: a total of
    one or two, a single hidden level, or as many twos as hidden levels."""
    hidden = {k for k in SCALE if level[k] < SMALL_CELL}

    def pinned() -> bool:
        total = sum(level[k] for k in hidden)
        return total > 0 and (
            total < SMALL_CELL or len(hidden) == 1 or total == (SMALL_CELL - 1) * len(hidden)
        )

    while hidden and len(hidden) < len(SCALE) and pinned():
        hidden.add(min((k for k in SCALE if k not in hidden), key=lambda k: level[k]))
    return {str(k): None if k in hidden else level[k] for k in SCALE}
