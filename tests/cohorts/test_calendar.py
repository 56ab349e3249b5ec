"""The cohort's calendar as RFC 5545: parsed back with icalendar, its weekly routines expanded
by a second library (recurring-ical-events) and read by a third, independent parser (ics);
signed links that no one can forge."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import ics
import pytest
import recurring_ical_events

from nbcohort.cohorts.models import Cohort, ReviewRound, clock_at
from nbcohort.cohorts.services.calendar import ics_calendar
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.signing import load_key, sign, verify
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

T0 = datetime(2027, 2, 25, 12, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def calendar_of(store, extra: str = "", deadlines=None) -> tuple[bytes, Cohort]:
    cohort, _ = apply_text(store, cohort_toml(extra=extra), T0)
    if deadlines:
        from nbcohort.cohorts.cohort_checks import check_cohort_file

        spec, _ = check_cohort_file(cohort_toml(extra=extra), "x.toml")
        with clock_at(T0), store.write() as s:
            apply_cohort_file(s, SYSTEM, spec, "1" * 64, deadlines=deadlines)
    with clock_at(T0), store.write() as s:
        s.add(ReviewRound(cohort_id=cohort.id, assignment="project-1",
                          due_at=datetime(2027, 3, 24, 16, tzinfo=UTC)))  # fmt: skip
    with clock_at(T0), store.read() as s:
        return ics_calendar(s, s.get_one(Cohort, cohort.id)), cohort


def test_the_calendar_parses_back_with_routines_clinic_and_deadlines(store):
    due = {"project-1": datetime(2027, 3, 19, 22, 59, tzinfo=UTC)}
    data, _ = calendar_of(store, deadlines=due)
    cal = icalendar.Calendar.from_ical(data)
    assert cal["VERSION"] == "2.0" and "nbcohort" in str(cal["PRODID"])
    [zone] = cal.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Berlin"
    assert {c.name for c in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    tip = events["routine-top-tip@spring-26.nbcohort"]
    assert tip["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert tip.decoded("DTSTART") == datetime(2027, 3, 2, 10, tzinfo=BERLIN)
    assert tip["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=TU"
    clinic = events["clinic-2027-03@spring-26.nbcohort"]
    assert clinic.decoded("DTSTART").astimezone(UTC) == datetime(2027, 3, 18, 16, tzinfo=UTC)
    assert clinic.decoded("DTEND") - clinic.decoded("DTSTART") == timedelta(hours=1)
    assert str(clinic["LOCATION"]) == "https://meet.example.org/x"
    deadline = events["assignment-project-1@spring-26.nbcohort"]
    assert deadline.decoded("DTSTART").astimezone(UTC) == due["project-1"]
    assert "DTEND" not in deadline  # a moment, not a span (RFC 5545 3.6.1)
    assert "review-project-1@spring-26.nbcohort" in events
    assert all("DTSTAMP" in e and "UID" in e for e in events.values())


def test_weekly_routines_expand_at_their_local_time_across_daylight_saving(store):
    data, _ = calendar_of(store)
    cal = icalendar.Calendar.from_ical(data)
    tuesdays = [
        e for e in recurring_ical_events.of(cal).between(date(2027, 3, 1), date(2027, 4, 14))
        if str(e["SUMMARY"]) == "Top Tip Tuesday"
    ]  # fmt: skip
    starts = [e.decoded("DTSTART") for e in tuesdays]
    assert [s.date() for s in starts] == [date(2027, 3, 2) + timedelta(weeks=n) for n in range(7)]
    assert {s.astimezone(BERLIN).strftime("%H:%M") for s in starts} == {"10:00"}
    assert starts[3].astimezone(UTC).hour == 9 and starts[4].astimezone(UTC).hour == 8


def test_an_independent_parser_reads_the_same_events(store):
    data, _ = calendar_of(store)
    parsed = ics.Calendar(data.decode("utf-8"))
    names = sorted(e.name for e in parsed.events)
    assert names == sorted(["Top Tip Tuesday", "Friday Wins", "Monthly live clinic",
                            "Peer reviews of project-1 due"])  # fmt: skip
    clinic = next(e for e in parsed.events if e.name == "Monthly live clinic")
    assert clinic.begin.to("UTC").datetime == datetime(2027, 3, 18, 16, tzinfo=UTC)


def test_routines_end_with_the_cadence_until_in_utc(store):
    data, _ = calendar_of(store, extra="[cadence]\nuntil = 2027-04-30\n")
    cal = icalendar.Calendar.from_ical(data)
    tip = next(e for e in cal.walk("VEVENT") if str(e["SUMMARY"]) == "Top Tip Tuesday")
    rule = tip["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["TU"]
    assert rule["UNTIL"] == [datetime(2027, 4, 30, 21, 59, 59, tzinfo=UTC)]  # 23:59:59 CEST
    assert b"UNTIL=20270430T215959Z" in rule.to_ical()
    last = list(recurring_ical_events.of(cal).between(date(2027, 4, 1), date(2027, 6, 1)))
    assert max(e.decoded("DTSTART").date() for e in last if "Tip" in str(e["SUMMARY"])) == date(
        2027, 4, 27
    )


def test_a_members_calendar_marks_their_sign_ups(store):
    from nbcohort.cohorts.models import Event, EventSignup

    _, cohort = calendar_of(store)
    with clock_at(T0), store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        ana = add_member(s, SYSTEM, c, name="Ana", email="ana@example.org", username="ana")
        s.flush()
        event = s.query(Event).filter_by(kind="clinic").one()
        s.add(EventSignup(event_id=event.id, member_id=ana.id))
    with store.read() as s:
        data = ics_calendar(s, s.get_one(Cohort, cohort.id), ana)
    clinic = next(e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")
                  if "clinic" in str(e["UID"]))  # fmt: skip
    assert str(clinic["DESCRIPTION"]).endswith("You signed up.")


def test_signed_links(tmp_path):
    key = load_key(tmp_path / "signing.key")
    assert load_key(tmp_path / "signing.key") == key and len(key) == 32
    assert oct((tmp_path / "signing.key").stat().st_mode & 0o777) == "0o600"
    token = sign(key, "calendar", 7)
    assert verify(key, token, "calendar", 7)
    assert not verify(key, token, "calendar", 8)
    assert not verify(key, token, "unsubscribe", 7)
    assert not verify(load_key(tmp_path / "other.key"), token, "calendar", 7)
    assert not verify(key, token[:-1] + ("A" if token[-1] != "A" else "B"), "calendar", 7)


def test_a_cohort_title_cannot_break_the_calendars_lines(store):
    """New titles with a line break are refused; one already stored (from before that rule)
    is written as one escaped line, and every member's feed still builds."""
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.errors import Invalid

    for title in ("Pandas\rX-EVIL:1", "Pandas\nX-EVIL:1", "Pandas\u2028X-EVIL:1"):
        with store.write() as s, pytest.raises(Invalid, match="one line of text") as refused:
            create_cohort(s, SYSTEM, "evil", title)
        assert refused.value.field == "title"
    _, cohort = calendar_of(store)
    for title in ("Pandas\rX-EVIL:1", "Pandas\nX-EVIL:1;a,b"):
        with store.write() as s:
            s.get_one(Cohort, cohort.id).title = title
        with clock_at(T0), store.read() as s:
            data = ics_calendar(s, s.get_one(Cohort, cohort.id))
        assert b"\rX-EVIL" not in data and b"\nX-EVIL" not in data
        cal = icalendar.Calendar.from_ical(data)
        assert "X-EVIL" not in cal
        one_line = icalendar.vText(" ".join(title.split())).to_ical()  # RFC 5545 TEXT
        assert b"\r\nX-WR-CALNAME:" + one_line + b"\r\n" in data
