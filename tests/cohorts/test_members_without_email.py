"""Members without an email address: a roster line may give a username instead; such a
member is matched by username on re-import, gets everything in the notebook, and no mail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.members import add_member, member_dict, set_email_pref
from nbcohort.cohorts.services.roster import RosterError, import_roster

SYSTEM = Actor.system()
HEADER = "name,email,team,role,username\n"


def load(store, cohort, text, **kw):
    with store.write() as s:
        return import_roster(s, SYSTEM, s.get(Cohort, cohort.id), text, **kw)


def roster(store, cohort) -> dict[str, Member]:
    with store.read() as s:
        rows = s.scalars(select(Member).where(Member.cohort_id == cohort.id))
        return {m.username: m for m in rows}


def test_a_line_without_email_gives_a_username(store, cohort):
    report = load(
        store, cohort, HEADER + "Ana Souza,,red,learner,ana\nBen Okafor,ben@x.org,,learner,\n"
    )
    assert report.added == 2
    members = roster(store, cohort)
    assert members["ana"].email is None and members["ben"].email == "ben@x.org"


def test_reimport_matches_by_username_and_can_add_the_address_later(store, cohort):
    text = HEADER + "Ana Souza,,red,learner,ana\nCai,,blue,learner,cai\n"
    load(store, cohort, text)
    ana_id = roster(store, cohort)["ana"].id
    again = load(store, cohort, text)
    assert (again.added, again.unchanged) == (0, 2)
    moved = load(store, cohort, HEADER + "Ana Souza,,blue,learner,ana\n")
    assert moved.updated == 1 and roster(store, cohort)["ana"].team == "blue"
    found = load(store, cohort, HEADER + "Ana Souza,ana@x.org,blue,learner,ana\n")
    assert (found.added, found.updated) == (0, 1)
    ana = roster(store, cohort)["ana"]
    assert (ana.id, ana.email) == (ana_id, "ana@x.org")
    # A later file without her address leaves it as it is, and still finds her.
    assert load(store, cohort, HEADER + "Ana Souza,,blue,learner,ana\n").unchanged == 1
    assert roster(store, cohort)["ana"].email == "ana@x.org"


def test_deactivate_missing_sees_members_without_email(store, cohort):
    load(store, cohort, HEADER + "Ana,,red,learner,ana\nCai,,blue,learner,cai\n")
    report = load(store, cohort, HEADER + "Ana,,red,learner,ana\n", deactivate_missing=True)
    assert report.deactivated == 1
    assert not roster(store, cohort)["cai"].active and roster(store, cohort)["ana"].active


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("Ana,,red,learner,", "line 2, field 'email': give an email address, or a username"),
        ("Ana,not-an-email,red,learner,ana", "line 2, field 'email': 'not-an-email' is not an"),
        ("Ana,ana@,red,learner,", "line 2, field 'email': 'ana@' is not an email address"),
        ("Ana,,red,learner,a b", "field 'username': username 'a b' may hold letters"),
    ],
)
def test_bad_lines_are_refused_by_line_and_field(store, cohort, line, says):
    with pytest.raises(RosterError) as refused:
        load(store, cohort, HEADER + line + "\n")
    assert says in refused.value.message
    assert roster(store, cohort) == {}


def test_a_username_taken_by_a_member_without_email_is_named(store, cohort):
    load(store, cohort, HEADER + "Ana,,red,learner,ana\n")
    with pytest.raises(RosterError) as refused:
        load(store, cohort, HEADER + "Other Ana,ana@elsewhere.org,,learner,\n")
    assert "'ana' already belongs to a member without an email address in this cohort (give" in (
        refused.value.message
    )


def test_add_member_without_email_and_its_own_email_setting(store, cohort):
    with store.write() as s:
        c = s.get(Cohort, cohort.id)
        one = add_member(s, SYSTEM, c, name="One", username="one")
        two = add_member(s, SYSTEM, c, name="Two", username="two")  # no clash on a missing email
        assert (one.email, two.email) == (None, None)
        with pytest.raises(Invalid, match="give an email address"):
            add_member(s, SYSTEM, c, name="Three")
        set_email_pref(s, Actor.of(one), one, "digest")
        with pytest.raises(Forbidden):
            set_email_pref(s, Actor.of(one), two, "none")
        with pytest.raises(Invalid):
            set_email_pref(s, Actor.of(one), one, "weekly")
        assert member_dict(one, private=True)["email_pref"] == "digest"
