"""Moderation from the command line (real processes, a real config): the cohort file's
``[charter]`` validated with file, line and key, applied; then ``nbcohort moderation list``,
``reject`` without a reason refused, ``approve``, ``decide``, and ids of another cohort or
none at all refused in words."""

from __future__ import annotations

import pytest

from nbcohort.cohorts.models import HeldPost, Member
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up
from tests.cohorts.test_rhythm_cli import ok

pytestmark = pytest.mark.slow
CHARTER = """
[charter]
code_of_conduct = "Be kind."

[charter.moderation]
hold_first_posts = 1
posts_per_hour = {per_hour}
"""


def test_moderation_from_the_command_line(course, tmp_path):  # noqa: F811
    folder, env = course
    cohort_file = folder / "spring-26.toml"
    # The scaffold's own [charter] (a code of conduct, rules commented out) gives way to ours.
    text = cohort_file.read_text("utf-8")
    text = text[: text.index("[charter]")] if "[charter]" in text else text
    cohort_file.write_text(text + CHARTER.format(per_hour=0), "utf-8")
    refused = nbcohort(env, "cohort", "validate", str(cohort_file))
    line = (text + CHARTER).splitlines().index("posts_per_hour = {per_hour}") + 1
    assert refused.returncode != 0
    assert f"spring-26.toml:{line}: charter.moderation.posts_per_hour: must be at least 1" in (
        refused.stdout + refused.stderr
    )
    cohort_file.write_text(text + CHARTER.format(per_hour=5), "utf-8")
    ok(nbcohort(env, "cohort", "apply", str(cohort_file)))
    store = Store.open(f"sqlite:///{folder / '.nbcohort' / 'nbcohort.sqlite'}")
    try:
        with store.write() as s:
            cohort = get_cohort(s, "spring-26")
            ana = add_member(s, Actor.system(), cohort, name="Ana", email="ana@example.org",
                             username="ana")  # fmt: skip
            first = posts.create_post(s, Actor.of(ana), cohort, "module-1/a", "Echidna here")
            second = posts.create_post(s, Actor.of(ana), cohort, "module-1/b", "Echidna too")
            assert isinstance(first, HeldPost) and isinstance(second, HeldPost)
            s.flush()
            first_id, second_id = first.id, second.id
    finally:
        store.close()
    listed = ok(nbcohort(env, "moderation", "list"))
    assert f"held {first_id}:" in listed and "Echidna here" in listed
    no_reason = nbcohort(env, "moderation", "reject", str(second_id))
    assert no_reason.returncode != 0 and "say why" in no_reason.stderr + no_reason.stdout
    assert "approved: post" in ok(nbcohort(env, "moderation", "approve", str(first_id)))
    twice = nbcohort(env, "moderation", "approve", str(first_id))
    assert twice.returncode != 0 and "already approved" in twice.stderr + twice.stdout
    for bad in ("999999", "abc"):
        nope = nbcohort(env, "moderation", "approve", bad)
        assert nope.returncode != 0
    ok(nbcohort(env, "moderation", "reject", str(second_id), "--reason=not on topic"))
    store = Store.open(f"sqlite:///{folder / '.nbcohort' / 'nbcohort.sqlite'}")
    try:
        with store.write() as s:
            from nbcohort.cohorts.services.appeals import file_appeal

            cohort = get_cohort(s, "spring-26")
            ana = s.get_one(Member, s.get_one(HeldPost, second_id).author_id)
            appeal_id = file_appeal(s, Actor.of(ana), cohort, "it was", held_id=second_id).id
    finally:
        store.close()
    assert f"appeal {appeal_id}" in ok(nbcohort(env, "moderation", "list"))
    undecided = nbcohort(env, "moderation", "decide", str(appeal_id), "--reason=x")
    assert undecided.returncode != 0 and "--decision" in undecided.stderr + undecided.stdout
    granted = ok(
        nbcohort(env, "moderation", "decide", str(appeal_id), "--decision=grant", "--reason=ok")
    )
    assert "granted" in granted
    assert "nothing waits" in ok(nbcohort(env, "moderation", "list"))
