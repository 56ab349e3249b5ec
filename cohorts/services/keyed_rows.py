"""A cohort's rows named by a key and carrying one text (micro-prompts, practices), brought up
to date from a course file: new keys are created, changed texts updated, each change logged.
Keys no longer listed stay, with what members recorded against them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor

__all__ = ["sync_keyed"]


def sync_keyed(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    model: Any,
    wanted: Mapping[str, str],
    *,
    column: str,
    verb: str,
    on_create: Callable[[str], Mapping[str, Any]] = lambda _key: {},
) -> int:
    """Make the cohort's ``model`` rows say ``wanted`` (key -> text in ``column``); returns
    how many rows were created or changed. ``on_create``: more values for a new key's row.
    The caller has checked the keys and texts and the actor's right to do this."""
    existing = {
        row.key: row for row in session.scalars(select(model).where(model.cohort_id == cohort.id))
    }
    changed = 0
    for key, text in wanted.items():
        row = existing.get(key)
        if row is None:
            row = model(cohort_id=cohort.id, key=key, **{column: text}, **on_create(key))
            session.add(row)
            session.flush()
        elif getattr(row, column) != text:
            setattr(row, column, text)
        else:
            continue
        changed += 1
        record(session, cohort.id, actor.member_id, verb, row, key=key)
    return changed
