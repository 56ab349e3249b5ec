"""A cohort with a rhythm, for tests, the simulation and the benchmark: a cohort file (TOML
text with a few knobs), applied through the services layer on a chosen clock, and members."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Cohort, Member, clock_at
from nbcohort.cohorts.services.cohort_apply import ApplyReport, apply_cohort_file
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM

STEPS = """
[[onboarding.steps]]
key = "welcome"
day = 0
title = "Welcome to {{ cohort }}"
text = "Welcome, {{ name }}! Read the charter and acknowledge it."
action = "ack_charter"
link = "welcome/welcome.ipynb"

[[onboarding.steps]]
key = "first-task"
day = 2
title = "A first micro-task"
text = "Post what surprised you in module 1."
action = "post_in"
anchor = "module-1/"
link = "module-1/01-loading-data.ipynb"

[[onboarding.steps]]
key = "introduce"
day = 4
title = "Introduce yourself"
text = "Say hello."
action = "post_in"
anchor = "welcome/introductions"

[[onboarding.steps]]
key = "help-a-peer"
day = 7
title = "React to or answer a peer"
text = "Help someone."
action = "engage_peer"

[[onboarding.steps]]
key = "share"
day = 10
title = "Share or review"
text = "Share an artifact."
action = "share_or_review"

[[onboarding.steps]]
key = "check-in"
day = 14
title = "Check-in"
text = "{{ name }}, how is it going?"
action = "none"
"""


def cohort_toml(
    *,
    slug: str = "spring-26",
    starts_on: str = "2027-03-01",
    timezone: str = "Europe/Berlin",
    routine_time: str = "10:00",
    routine_day: str = "tuesday",
    clinic_week: int = 3,
    extra: str = "",
    steps: bool = True,
) -> str:
    """A cohort file: weekday prompts at 08:30, two routines, highlights on Fridays at 16:00,
    a clinic on the ``clinic_week``-th Thursday, and the six-step onboarding."""
    return f"""
[cohort]
slug = "{slug}"
title = "Practical pandas, spring"
course = "pandas-practice"
starts_on = {starts_on}
timezone = "{timezone}"
facilitators = ["fay"]

[cadence.prompts]
time = "08:30"

[[cadence.routines]]
key = "top-tip"
title = "Top Tip Tuesday"
day = "{routine_day}"
time = "{routine_time}"
host = "chi"
prompt = "Top tips, week {{{{ week }}}}{{% if host %}}, hosted by {{{{ host }}}}{{% endif %}}."

[[cadence.routines]]
key = "friday-wins"
title = "Friday Wins"
day = "friday"
time = "12:00"
prompt = "Wins of {{{{ date }}}}?"

[cadence.highlights]
day = "friday"
time = "16:00"

[cadence.clinic]
week = {clinic_week}
day = "thursday"
time = "17:00"
location = "https://meet.example.org/x"
{extra}
{STEPS if steps else ""}
"""


def apply_text(
    store: Store, text: str, at: datetime, course_prompts: dict[str, str] | None = None
) -> tuple[Cohort, ApplyReport]:
    """Apply a cohort file's text as ``nbcohort cohort apply`` does, at ``at``."""
    from nbcohort.cohorts.course import CourseSpec

    spec, problems = check_cohort_file(text, "test.toml")
    assert spec is not None, [str(p) for p in problems]
    course = CourseSpec("pandas-practice", "Pandas", (), prompts=course_prompts or {})
    with clock_at(at), store.write() as s:
        return apply_cohort_file(s, SYSTEM, spec, "0" * 64, course=course)


def bulk_members(
    store: Store, cohort_id: int, n: int, joined: list[datetime] | datetime, **fields: Any
) -> list[int]:
    """``n`` learners inserted in one statement (no activity, no checks: load for benchmarks
    and simulations, not behaviour under test)."""
    times = joined if isinstance(joined, list) else [joined] * n
    rows = [
        {"cohort_id": cohort_id, "username": f"m{i:05d}", "name": f"Member {i}",
         "email": f"m{i:05d}@example.org", "role": "learner", "team": "", "timezone": "UTC",
         "active": True, "joined_at": times[i], "updated_at": times[i], "email_pref": "all",
         **fields}
        for i in range(n)
    ]  # fmt: skip
    with store.write() as s:
        s.execute(insert(Member), rows)
    with store.read() as s:
        from sqlalchemy import select

        return list(
            s.scalars(
                select(Member.id)
                .where(Member.cohort_id == cohort_id, Member.username.like("m%"))
                .order_by(Member.id)
            )
        )


def days(n: float) -> timedelta:
    return timedelta(days=n)
