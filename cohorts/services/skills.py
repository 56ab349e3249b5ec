"""Skills a member shows in the community's member directory: a short list of tags they set
themselves (``set_directory_skills``), shown only while they choose to be listed
(``community_directory.py``), found by ``skill`` there, and in their own export.

A skill is one short tag as a member would write it ("pandas", "SQL", "C++", "CI/CD"):
letters, digits, spaces and ``+ # . - / _``, at most ``MAX_SKILL_LENGTH`` characters, at most
``MAX_SKILLS`` of them. Anything else is refused, naming the skill and what is wrong, and
nothing is saved; spaces are collapsed, and a skill given again in another case is the same
skill (the first spelling is kept).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, Invalid

__all__ = ["MAX_SKILLS", "MAX_SKILL_LENGTH", "clean_skill", "clean_skills", "set_directory_skills"]

MAX_SKILLS = 12
MAX_SKILL_LENGTH = 40
_ALLOWED = "+#./_- "
_FIELD = "skills"


def _shown(raw: str) -> str:
    """A refused skill as an error message quotes it: never more than 40 characters."""
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


def clean_skill(raw: object, field: str = "skill") -> str:
    """One skill, its spaces collapsed (NFC); Invalid, naming it and the problem, when it is
    not text, empty, too long or holds a character a skill may not have."""
    if not isinstance(raw, str):
        raise Invalid(f'{field}: each skill must be text, like "pandas"', field=field)
    skill = " ".join(unicodedata.normalize("NFC", raw).split())
    if not skill:
        raise Invalid(f"{field}: a skill cannot be empty", field=field)
    if len(skill) > MAX_SKILL_LENGTH:
        raise Invalid(
            f"{field}: skill {_shown(skill)} is {len(skill)} characters long; "
            f"at most {MAX_SKILL_LENGTH}",
            field=field,
        )
    bad = sorted({ch for ch in skill if not (ch.isalnum() or ch in _ALLOWED)})
    if bad or not any(ch.isalnum() for ch in skill):
        said = f" ({' '.join(repr(ch) for ch in bad[:5])})" if bad else ""
        raise Invalid(
            f"{field}: skill {_shown(skill)} may hold only letters, digits, spaces and "
            f"{' '.join(_ALLOWED.strip())}{said}",
            field=field,
        )
    return skill


def clean_skills(raw: object) -> list[str]:
    """A member's skills as saved: each cleaned, the same skill in another case once (its
    first spelling). Invalid when ``raw`` is not a list or has more than ``MAX_SKILLS``."""
    if not isinstance(raw, list):
        raise Invalid(f'{_FIELD} must be a list of skills, like ["pandas", "SQL"]', field=_FIELD)
    if len(raw) > MAX_SKILLS:
        raise Invalid(f"{_FIELD}: at most {MAX_SKILLS} skills ({len(raw)} given)", field=_FIELD)
    out: dict[str, str] = {}
    for item in raw:
        skill = clean_skill(item, _FIELD)
        out.setdefault(skill.casefold(), skill)
    return list(out.values())


def set_directory_skills(session: Session, actor: Actor, member: Member, skills: object) -> Member:
    """Set the skills ``member`` shows in the community's directory (all of them at once; an
    empty list clears them): their own choice (or the local administrator's), before or after
    graduation. Shown only while they are listed."""
    if not actor.is_system and actor.member_id != member.id:
        raise Forbidden("members set their own skills")
    cleaned = clean_skills(skills)
    if member.left_at is not None or not member.active:
        raise Forbidden("a member who left is not listed in the directory")
    if list(member.directory_skills or []) != cleaned:
        member.directory_skills = cleaned
        member.updated_at = utcnow()
        record(
            session, member.cohort_id, actor.member_id, "member.skills", member, count=len(cleaned)
        )
    return member
