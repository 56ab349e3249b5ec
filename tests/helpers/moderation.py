"""A cohort's ``[charter]`` rules set for a test, as ``cohort apply`` stores them."""

from __future__ import annotations

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.store import Store

CONDUCT = "Be kind; assume good intent.\n\n<script>alert('x')</script> **no harassment**"


def charter_toml(slug: str = "spring-26", conduct: str = CONDUCT, **rules: object) -> str:
    lines = "\n".join(f"{k} = {v!r}" if not isinstance(v, list) else f"{k} = {v}"
                      for k, v in rules.items())  # fmt: skip
    return (
        f'[cohort]\nslug = "{slug}"\ntitle = "T"\nstarts_on = 2026-01-05\n\n'
        f"[charter]\ncode_of_conduct = '''{conduct}'''\n\n[charter.moderation]\n{lines}\n"
    )


def set_charter(store: Store, cohort_id: int, **rules: object) -> None:
    """Store the checked ``[charter]`` (and the rest of a minimal file) on the cohort."""
    with store.write() as s:
        cohort = s.get_one(Cohort, cohort_id)
        spec, problems = check_cohort_file(charter_toml(cohort.slug, **rules), "test.toml")
        assert spec is not None, [str(p) for p in problems]
        cohort.settings = {**(cohort.settings or {}), "rhythm": spec.model_dump(mode="json")}
