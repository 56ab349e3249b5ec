"""The skills a member shows in the community's member directory (services/skills.py), set
through the services layer on SQLite and PostgreSQL: cleaned and bounded, refused by name with
nothing saved, the member's own choice only. (Through the HTTP service and shown in the
directory: tests/api/test_community_shared.py; in the export: test_export.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Activity, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.skills import (
    MAX_SKILL_LENGTH,
    MAX_SKILLS,
    clean_skills,
    set_directory_skills,
)
from nbcohort.cohorts.store import Store
from tests.helpers.graduation import make_cohort

SYSTEM = Actor.system()


def test_skills_are_cleaned_and_the_same_skill_in_another_case_is_kept_once():
    got = clean_skills(["pandas", "SQL", "sql", "  data \t viz ", "C++", "CI/CD", "Sql", "C#"])
    assert got == ["pandas", "SQL", "data viz", "C++", "CI/CD", "C#"]
    assert clean_skills([]) == []
    assert clean_skills(["Straße", "STRASSE"]) == ["Straße"]  # casefold: one skill
    assert clean_skills(["cafe\u0301"]) == ["caf\u00e9"]  # NFC
    assert clean_skills(["x" * MAX_SKILL_LENGTH]) == ["x" * MAX_SKILL_LENGTH]


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("pandas", "skills must be a list of skills"),
        ({"skill": "pandas"}, "skills must be a list of skills"),
        (None, "skills must be a list of skills"),
        ([1], "each skill must be text"),
        ([["nested"]], "each skill must be text"),
        ([None], "each skill must be text"),
        (["   "], "a skill cannot be empty"),
        (["x" * 10_000], "is 10000 characters long; at most 40"),
        (["x" * (MAX_SKILL_LENGTH + 1)], f"is {MAX_SKILL_LENGTH + 1} characters long"),
        (["pandas"] * 500, f"at most {MAX_SKILLS} skills (500 given)"),
        (["<script>alert(1)</script>"], "may hold only letters, digits, spaces and"),
        (['<img src=x onerror="alert(1)">'], "('\"' '(' ')' '<' '=')"),  # the first five
        (["a\x00b"], "'\\x00'"),
        (["a\u202eb"], "'\\u202e'"),
        (["R&D"], "'&'"),
        (["---"], "may hold only letters, digits"),  # no letter or digit at all
    ],
)
def test_bad_skills_are_refused_naming_the_problem(bad, says):
    with pytest.raises(Invalid) as refused:
        clean_skills(bad)
    assert refused.value.field == "skills"
    assert says in str(refused.value), str(refused.value)
    assert len(str(refused.value)) < 300  # a 10,000-character skill is not echoed back


def _member(s, username: str) -> Member:
    return s.scalars(select(Member).where(Member.username == username)).one()


def _logged(s, member: Member) -> int:
    q = select(func.count()).where(
        Activity.verb == "member.skills", Activity.object_id == member.id
    )
    return int(s.scalar(q) or 0)


def test_a_member_sets_their_own_skills_and_nobody_else_can(store: Store):
    make_cohort(store, "spring", "pandas-practice")
    with store.write() as s:
        ana = _member(s, "ana-spring")
        assert ana.directory_skills == []  # nobody has skills until they set them
        set_directory_skills(s, Actor.of(ana), ana, ["pandas", "PANDAS", "SQL"])
    with store.write() as s:
        ana = _member(s, "ana-spring")
        assert ana.directory_skills == ["pandas", "SQL"]
        assert _logged(s, ana) == 1
        set_directory_skills(s, Actor.of(ana), ana, ["pandas", "SQL"])  # the same: no new row
        assert _logged(s, ana) == 1
        for who in ("fay-spring", "ivo-spring", "ben-spring"):  # staff neither
            with pytest.raises(Forbidden, match="their own skills"):
                set_directory_skills(s, Actor.of(_member(s, who)), ana, ["hacked"])
        with pytest.raises(Invalid):  # refused whole: nothing half-written
            set_directory_skills(s, Actor.of(ana), ana, ["numpy", "<b>x</b>"])
    with store.read() as s:
        assert _member(s, "ana-spring").directory_skills == ["pandas", "SQL"]
    with store.write() as s:
        ana = _member(s, "ana-spring")
        set_directory_skills(s, SYSTEM, ana, [])  # the local administrator may; [] clears
    with store.write() as s:
        ben = _member(s, "ben-spring")
        set_directory_skills(s, Actor.of(ben), ben, ["sql"])
        leave(s, SYSTEM, ben, reason="moved on")
    with store.write() as s:
        assert _member(s, "ana-spring").directory_skills == []
        ben = _member(s, "ben-spring")
        with pytest.raises(Forbidden, match="left"):
            set_directory_skills(s, SYSTEM, ben, ["pandas"])
