"""Roster import: all of a file or nothing, clear problems by line and field, safe re-import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Activity, Cohort, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, Invalid, NotFound, ServiceError
from nbcohort.cohorts.services.roster import MAX_PROBLEMS, RosterError, import_roster
from nbcohort.cohorts.store import Store

SYSTEM = Actor.system()
HEADER = "name,email,team,role\n"


def counts(store: Store) -> tuple[int, int]:
    """(members, activities): what a refused import must leave as it was."""
    with store.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Member)) or 0,
            s.scalar(select(func.count()).select_from(Activity)) or 0,
        )


def load(store: Store, cohort: Cohort, source: str | bytes | Path, **kw: object):
    with store.write() as s:
        return import_roster(s, SYSTEM, s.get(Cohort, cohort.id), source, **kw)


def refused(store: Store, cohort: Cohort, source: str | bytes | Path, **kw: object) -> str:
    """Import ``source``, expect a RosterError, check nothing changed; return the message."""
    before = counts(store)
    with pytest.raises(RosterError) as info:
        load(store, cohort, source, **kw)
    assert counts(store) == before
    assert isinstance(info.value, Invalid)
    assert info.value.status == 422
    return info.value.message


def members(store: Store, cohort: Cohort) -> dict[str, Member]:
    with store.read() as s:
        rows = s.scalars(select(Member).where(Member.cohort_id == cohort.id)).all()
        s.expunge_all()  # keep the loaded values after the read-only scope rolls back
        return {m.email: m for m in rows}


# --- adding and re-importing ---------------------------------------------------------------


def test_import_adds_members_and_logs_each(store: Store, cohort: Cohort) -> None:
    text = HEADER + "Dana Ali,Dana@Example.org,red,learner\nEli Moss,eli@example.org,,champion\n"
    report = load(store, cohort, text)
    assert (report.added, report.updated, report.unchanged, report.deactivated) == (2, 0, 0, 0)
    assert report.summary() == "2 added, 0 updated, 0 unchanged, 0 deactivated"
    got = members(store, cohort)
    assert set(got) == {"dana@example.org", "eli@example.org"}
    dana = got["dana@example.org"]
    assert (dana.username, dana.team, dana.role, dana.timezone, dana.active) == (
        "dana", "red", "learner", "UTC", True
    )  # fmt: skip
    with store.read() as s:
        verbs = s.scalars(select(Activity.verb).where(Activity.object_type == "member")).all()
    assert verbs.count("member.add") == 2


def test_reimport_same_file_changes_nothing(store: Store, cohort: Cohort) -> None:
    text = HEADER + "Dana Ali,dana@example.org,red,learner\nEli Moss,eli@example.org,,champion\n"
    load(store, cohort, text)
    before = counts(store)
    report = load(store, cohort, text)
    assert report.summary() == "0 added, 0 updated, 2 unchanged, 0 deactivated"
    assert counts(store) == before  # no duplicate members, no activity for no change


def test_reimport_updated_file_updates_by_email(store: Store, cohort: Cohort) -> None:
    load(store, cohort, HEADER + "Dana Ali,dana@example.org,red,learner\n"
                                 "Eli Moss,eli@example.org,,champion\n")  # fmt: skip
    report = load(
        store,
        cohort,
        HEADER + "Dana Ali-Ng,DANA@example.org,blue,champion\n"
        "Eli Moss,eli@example.org,,champion\nFay Wu,fay.wu@example.org,green,learner\n",
    )
    assert report.summary() == "1 added, 1 updated, 1 unchanged, 0 deactivated"
    got = members(store, cohort)
    assert len(got) == 3
    dana = got["dana@example.org"]
    assert (dana.name, dana.team, dana.role, dana.username) == (
        "Dana Ali-Ng", "blue", "champion", "dana"
    )  # fmt: skip
    with store.read() as s:
        update = s.execute(
            select(Activity.object_id, Activity.data).where(Activity.verb == "member.update")
        ).one()
    assert update.object_id == dana.id
    assert sorted(update.data["fields"]) == ["name", "role", "team"]


def test_username_and_timezone_change_only_when_given(store: Store, cohort: Cohort) -> None:
    load(store, cohort, "name,email,team,role,username,timezone\n"
                        "Dana Ali,dana@example.org,red,learner,dali,Asia/Tokyo\n")  # fmt: skip
    report = load(store, cohort, HEADER + "Dana Ali,dana@example.org,red,learner\n")
    assert report.unchanged == 1
    dana = members(store, cohort)["dana@example.org"]
    assert (dana.username, dana.timezone) == ("dali", "Asia/Tokyo")
    load(store, cohort, "name,email,team,role,username,timezone\n"
                        "Dana Ali,dana@example.org,red,learner,dana-a,\n")  # fmt: skip
    dana = members(store, cohort)["dana@example.org"]
    assert (dana.username, dana.timezone) == ("dana-a", "Asia/Tokyo")


def test_headers_ignore_case_spaces_and_order(store: Store, cohort: Cohort) -> None:
    text = " E-Mail ,ROLE,Name,Time Zone,team,User_Name\r\n"
    text += "bo@example.org,alumni,Bo,Europe/Oslo,x,bo1\r\n"
    report = load(store, cohort, text)
    assert report.added == 1
    bo = members(store, cohort)["bo@example.org"]
    assert (bo.name, bo.role, bo.timezone, bo.team, bo.username) == (
        "Bo", "alumni", "Europe/Oslo", "x", "bo1"
    )  # fmt: skip


def test_quoted_values_blank_lines_and_bom(store: Store, cohort: Cohort, tmp_path: Path) -> None:
    data = "\ufeff" + HEADER + '"Okafor, Ben",ben@example.org,"team, a",learner\n\n,,,\n'
    path = tmp_path / "spring.csv"
    path.write_bytes(data.encode("utf-8"))
    report = load(store, cohort, path)
    assert report.added == 1
    assert members(store, cohort)["ben@example.org"].name == "Okafor, Ben"
    assert load(store, cohort, data.encode("utf-8")).unchanged == 1


def test_unicode_and_rtl_names_round_trip(store: Store, cohort: Cohort) -> None:
    names = {
        "nour@example.org": "نور الهدى",
        "shira@example.org": "שירה כהן",
        "zoe@example.org": "Zoë Łukasiewicz-Ørsted",
        "mei@example.org": "李美 🌸",
    }
    text = HEADER + "".join(f"{n},{e},فريق,learner\n" for e, n in names.items())
    assert load(store, cohort, text.encode("utf-8")).added == 4
    got = members(store, cohort)
    assert {e: m.name for e, m in got.items()} == names
    assert got["nour@example.org"].team == "فريق"
    # Decomposed input (e + combining diaeresis) is stored composed, so re-import is unchanged.
    again = text.replace("ë", "e\u0308")
    assert load(store, cohort, again).unchanged == 4


def test_thousand_rows(store: Store, cohort: Cohort) -> None:
    rows = "".join(f"Person {i},p{i}@example.org,t{i % 7},learner\n" for i in range(1000))
    assert load(store, cohort, HEADER + rows).added == 1000
    assert counts(store)[0] == 1000
    assert load(store, cohort, HEADER + rows).unchanged == 1000


# --- deactivation and authorization -------------------------------------------------------


def test_deactivate_missing_spares_staff_and_sponsors(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    text = HEADER + "Ana Souza,ana@example.org,red,learner\n"
    report = load(store, cohort, text, deactivate_missing=True)
    assert report.summary() == "0 added, 0 updated, 1 unchanged, 2 deactivated"
    active = {e for e, m in members(store, cohort).items() if m.active}
    # ben (learner) and chi (champion) leave; facilitator, instructor and sponsor stay.
    assert active == {f"{u}@example.org" for u in ("ana", "fay", "ivo", "sam")}
    with store.read() as s:
        assert s.scalar(
            select(func.count()).where(Activity.verb == "member.deactivate")
        ) == 2  # fmt: skip
    # Without the flag nobody is deactivated; a returning member is reactivated.
    report = load(store, cohort, HEADER + "Ben Okafor,ben@example.org,blue,learner\n")
    assert report.summary() == "0 added, 1 updated, 0 unchanged, 0 deactivated"
    assert members(store, cohort)["ben@example.org"].active
    assert not members(store, cohort)["chi@example.org"].active


def test_learner_may_not_import(store: Store, cohort: Cohort, people: dict[str, Member]) -> None:
    before = counts(store)
    with store.write() as s, pytest.raises(Forbidden):
        import_roster(s, Actor.of(people["ana"]), s.get(Cohort, cohort.id),
                      HEADER + "X,x@example.org,,learner\n")  # fmt: skip
    assert counts(store) == before


def test_facilitator_imports_and_is_logged_as_actor(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    fay = Actor.of(people["fay"])
    with store.write() as s:
        import_roster(s, fay, s.get(Cohort, cohort.id), HEADER + "X,x@example.org,,learner\n")
    with store.read() as s:
        entry = s.execute(
            select(Activity.member_id, Activity.data)
            .where(Activity.verb == "member.add")
            .order_by(Activity.id.desc())
        ).first()
    assert entry is not None
    assert entry.member_id == people["fay"].id
    assert entry.data["roster"] == "roster.csv"


def test_other_cohorts_staff_cannot_see_this_cohort(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    stranger = Actor(member_id=999, cohort_id=cohort.id + 1, role="instructor")
    with store.write() as s, pytest.raises(NotFound):
        import_roster(s, stranger, s.get(Cohort, cohort.id), HEADER + "X,x@example.org,,learner\n")


# --- refusals: a clear message, and nothing written ---------------------------------------


def test_empty_file(store: Store, cohort: Cohort) -> None:
    assert refused(store, cohort, b"") == (
        "roster.csv was not imported, nothing was changed (1 problem):\n"
        "  - roster.csv: has no members (the file is empty)"
    )
    assert "no members (only a header line)" in refused(store, cohort, HEADER.encode())
    assert "no members (only a header line)" in refused(store, cohort, HEADER + "\n,,,\n")


def test_missing_required_columns(store: Store, cohort: Cohort) -> None:
    message = refused(store, cohort, "name,email\nA,a@example.org\n")
    assert "roster.csv line 1: missing required column(s): team, role" in message


def test_unknown_columns_are_named(store: Store, cohort: Cohort) -> None:
    message = refused(store, cohort, "name,email,team,role,phone,\nA,a@example.org,,learner,1,\n")
    assert "roster.csv line 1: unknown column(s): 'phone', '(column 6 has no name)'" in message
    assert "allowed: name, email, team, role, timezone, username" in message


def test_column_given_twice(store: Store, cohort: Cohort) -> None:
    message = refused(store, cohort, "name,email,team,role,Email\nA,a@x.org,,learner,b@x.org\n")
    assert "line 1: column(s) given twice: email" in message


def test_not_utf8_names_the_line(store: Store, cohort: Cohort) -> None:
    data = (HEADER + "Ana,ana@example.org,,learner\nJosé,jose@example.org,,learner\n").encode(
        "latin-1"
    )
    message = refused(store, cohort, data, filename="march.csv")
    assert "march.csv line 3: the file is not UTF-8 text (byte 0xe9" in message
    assert "CSV UTF-8" in message


def test_ragged_rows(store: Store, cohort: Cohort) -> None:
    text = (
        HEADER + "Ana,ana@example.org,,learner\nOkafor, Ben,ben@example.org,,learner\nC,c@x.org\n"
    )
    message = refused(store, cohort, text)
    assert "roster.csv line 3: expected 4 fields, found 5" in message
    assert "roster.csv line 4: expected 4 fields, found 2" in message


def test_bad_fields_name_line_and_field(store: Store, cohort: Cohort) -> None:
    text = "name,email,team,role,timezone\n"
    text += "P0,p0@example.org,,learner,Mars/Base\n"  # line 2
    text += "".join(f"P{i},p{i}@example.org,,learner,\n" for i in range(1, 5))
    text += "Bob,bob@,,learner,\n"  # line 7
    text += "Cy,cy@example.org,,wizard,\n"
    text += ",nobody@example.org,,learner,\n"
    text += "Di,di@example.org,,learner,\n"
    message = refused(store, cohort, text)
    assert "roster.csv line 2, field 'timezone': unknown timezone 'Mars/Base'" in message
    assert "roster.csv line 7, field 'email': 'bob@' is not an email address" in message
    assert "roster.csv line 8, field 'role': role 'wizard' is not one of" in message
    assert "roster.csv line 9, field 'name': name is empty" in message
    assert "(4 problems)" in message


@pytest.mark.parametrize("username", ["..", ".hidden", "-rf", "a/b", "x" * 129])
def test_a_username_that_could_be_a_path_is_refused(
    store: Store, cohort: Cohort, username: str
) -> None:
    """A username names the member's folders in nbgrader's exchange and gradebook."""
    before = counts(store)
    message = refused(
        store, cohort, f"name,email,team,role,username\nDi,di@example.org,,learner,{username}\n"
    )
    assert "roster.csv line 2, field 'username'" in message
    assert counts(store) == before


def test_a_username_made_from_an_email_never_starts_with_a_dot(
    store: Store, cohort: Cohort
) -> None:
    load(
        store,
        cohort,
        "name,email,team,role\nDot,..dot@example.org,,learner\nDash,-x@example.org,,learner\n",
    )
    with store.read() as s:
        names = set(s.scalars(select(Member.username).where(Member.cohort_id == cohort.id)))
    assert names == {"dot", "x"}


def test_duplicate_email_names_both_lines(store: Store, cohort: Cohort) -> None:
    text = (
        HEADER
        + "Ana,ana@example.org,,learner\nB,b@example.org,,learner\nAna2,ANA@example.org,,learner\n"
    )
    message = refused(store, cohort, text)
    assert "roster.csv line 4, field 'email': 'ana@example.org' is also on line 2" in message


def test_duplicate_username_in_file(store: Store, cohort: Cohort) -> None:
    text = "name,email,team,role,username\nA,a@one.org,,learner,\nB,a@two.org,,learner,\n"
    message = refused(store, cohort, text)
    assert "roster.csv line 3, field 'username': username 'a' is also on line 2" in message
    text = "name,email,team,role,username\nA,a@one.org,,learner,zed\nB,b@two.org,,learner,zed\n"
    assert "line 3, field 'username': username 'zed' is also on line 2" in refused(
        store, cohort, text
    )


def test_username_of_another_member(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    text = "name,email,team,role,username\nNew,new@example.org,,learner,ben\n"
    message = refused(store, cohort, text)
    assert (
        "roster.csv line 2, field 'username': username 'ben' already belongs to "
        "ben@example.org in this cohort" in message
    )
    # A username derived from the email clashes too, and the message says how to fix it.
    message = refused(store, cohort, HEADER + "Other Ana,ana@elsewhere.org,,learner\n")
    assert "username 'ana' already belongs to ana@example.org" in message
    assert "give this line a username" in message


def test_an_email_is_one_plain_address(store: Store, cohort: Cohort) -> None:
    """What a mail header would read as other addresses (a list, a display name, a comment)
    is refused: the To: line must name the one address the message goes to."""
    odd = ['"x,victim@evil.org"', "a<b>@c.org", "a;b@c.org", "(x)a@c.org", '"a b@c.org"',
           "a@c..org", "a@-", "a\\b@c.org", "a@c.org>"]  # fmt: skip
    text = HEADER + "".join(f"P{i},{email},,learner\n" for i, email in enumerate(odd))
    message = refused(store, cohort, text)
    assert message.count("is not an email address") == len(odd), message
    assert "line 2, field 'email': 'x,victim@evil.org' is not an email address" in message
    good = ["ana.o'neil+pandas@example.org", "jörg@例え.jp", "x_y-z@sub.example.co.uk"]
    load(store, cohort, HEADER + "".join(f"G{i},{e},,learner\n" for i, e in enumerate(good)))
    assert sorted(members(store, cohort)) == sorted(good)


def test_problems_are_capped(store: Store, cohort: Cohort) -> None:
    text = HEADER + "".join(f"P{i},bad{i},,learner\n" for i in range(200))
    message = refused(store, cohort, text)
    assert message.count("is not an email address") == MAX_PROBLEMS
    assert f"stopped after the first {MAX_PROBLEMS} problems" in message


def test_one_bad_last_line_blocks_the_whole_file(store: Store, cohort: Cohort) -> None:
    text = HEADER + "".join(f"P{i},p{i}@example.org,,learner\n" for i in range(300))
    message = refused(store, cohort, text + "Z,z@example.org,,learner,extra\n")
    assert "line 302: expected 4 fields, found 5" in message


def test_roster_error_maps_to_422(store: Store, cohort: Cohort) -> None:
    with pytest.raises(ServiceError) as info:
        load(store, cohort, b"")
    assert info.value.as_dict()["error"] == "invalid"
    assert info.value.as_dict()["field"] == "roster"


def test_ragged_and_bad_fields_are_reported_together_in_line_order(
    store: Store, cohort: Cohort
) -> None:
    text = HEADER + "Ana,ana@,,learner\nB,b@example.org,,learner,x\nC,c@example.org,,boss\n"
    message = refused(store, cohort, text)
    assert message.index("line 2, field 'email'") < message.index("line 3: expected 4 fields")
    assert message.index("line 3: expected") < message.index("line 4, field 'role'")
    assert "(3 problems)" in message


def test_str_source_is_the_text_and_a_path_names_the_file(
    store: Store, cohort: Cohort, tmp_path: Path
) -> None:
    path = tmp_path / "week1.csv"
    path.write_bytes(b"name,email\n")
    assert "week1.csv line 1: missing required column(s): team, role" in refused(
        store, cohort, path
    )
    # A str is the CSV itself, so a file name given as a str is read as a one-column header.
    assert "unknown column(s): 'week1.csv'" in refused(store, cohort, "week1.csv")


def test_facilitator_cannot_grant_or_take_staff_roles(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    fay = Actor.of(people["fay"])
    before = counts(store)
    with store.write() as s, pytest.raises(Forbidden, match=r"line 3"):
        import_roster(s, fay, s.merge(cohort), HEADER + "Zed,zed@x.org,,learner\n"
                      "Eve,eve@x.org,,instructor\n")  # fmt: skip
    with store.write() as s, pytest.raises(Forbidden, match="line 2"):
        import_roster(s, fay, s.merge(cohort), HEADER + "Ivo Petrov,ivo@example.org,,learner\n")
    assert counts(store) == before
    with store.write() as s:  # an instructor may
        report = import_roster(s, Actor.of(people["ivo"]), s.merge(cohort),
                               HEADER + "Eve,eve@x.org,,facilitator\n")  # fmt: skip
    assert report.added == 1


def test_facilitator_may_reimport_a_roster_that_lists_staff(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    rows = (
        HEADER
        + "Fay Lindqvist,fay@example.org,,facilitator\nIvo Petrov,ivo@example.org,,instructor\n"
    )
    with store.write() as s:
        report = import_roster(s, Actor.of(people["fay"]), s.merge(cohort), rows)
    assert report.unchanged == 2
