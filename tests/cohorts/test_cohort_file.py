"""The cohort file: the example ships valid, and every kind of bad input is named with file,
key and line, all problems at once; wall-clock times across daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from nbcohort.cohorts.cohort_checks import CohortFileError, check_cohort_file, load_cohort_file
from nbcohort.cohorts.local_time import at_local, nth_weekday
from nbcohort.cohorts.prompt_library import community_prompts
from nbcohort.cohorts.toml_lines import KeyLines
from tests.helpers.processes import REPO

EXAMPLE = REPO / "course" / "cohorts" / "spring-27.toml"

GOOD = """\
[cohort]
slug = "c1"
title = "Cohort one"
starts_on = 2027-03-01
timezone = "Europe/Berlin"

[[cadence.routines]]
key = "tips"
title = "Top Tip Tuesday"
day = "tuesday"
time = "10:00"
prompt = "Tips for week {{ week }}"

[[onboarding.steps]]
key = "welcome"
day = 0
title = "Welcome"
text = "Hello {{ name }}"
action = "ack_charter"
"""


def problems(text: str) -> list[str]:
    spec, found = check_cohort_file(text, "c1.toml")
    assert spec is None
    return [str(p) for p in found]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_example_cohort_file_is_valid_and_complete():
    spec, sha = load_cohort_file(EXAMPLE)
    assert spec.cohort.slug == "spring-27" and len(sha) == 64
    assert [s.day for s in spec.onboarding.steps] == [0, 2, 4, 7, 10, 14]
    assert {r.title for r in spec.cadence.routines} == {"Top Tip Tuesday", "Friday Wins"}
    assert spec.cadence.clinic.location and spec.cadence.digest.day == "monday"


def test_good_file_parses():
    spec, found = check_cohort_file(GOOD, "c1.toml")
    assert found == [] and spec is not None
    assert spec.cadence.routines[0].time == time(10, 0)
    assert spec.cadence.prompts.days == ["monday", "tuesday", "wednesday", "thursday", "friday"]


def test_unknown_key_names_file_line_and_the_keys_it_knows():
    text = GOOD.replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\ncolour = 1')
    [found] = problems(text)
    assert found.startswith(f"c1.toml:{line_of(text, 'colour')}: cohort.colour: unknown key")
    assert "starts_on" in found


def test_a_title_is_one_line_of_visible_text():
    """A title heads pages, emails and calendar headers: a line break or a control character
    in it would break those formats (a TOML escape makes one easily)."""
    for escape, code in (("\\r", "U+000D"), ("\\u2028", "U+2028"), ("\\u202e", "U+202E")):
        text = GOOD.replace('title = "Cohort one"', f'title = "Cohort{escape}X-EVIL:1"')
        [found] = problems(text)
        assert found.startswith(f"c1.toml:{line_of(text, 'X-EVIL')}: cohort.title:"), found
        assert f"one line of text, without control or invisible characters ({code})" in found


def test_titles_keep_joiners_that_emoji_and_scripts_need():
    """ZWJ builds emoji, ZWNJ spells Persian and Indic words: cohort files with them load."""
    for title in ("👩\u200d💻 Pair programming", "می\u200cخواهم", "co\u00adoperate"):
        text = GOOD.replace('title = "Top Tip Tuesday"', f'title = "{title}"')
        spec, found = check_cohort_file(text, "c1.toml")
        assert found == [] and spec is not None, title
        assert spec.cadence.routines[0].title == title


def test_a_day_that_does_not_exist():
    text = GOOD.replace('day = "tuesday"', 'day = "funday"')
    [found] = problems(text)
    assert found.startswith(f"c1.toml:{line_of(text, 'funday')}: cadence.routines#1.day:")
    assert "'funday' is not a day of the week" in found


def test_a_time_zone_that_does_not_exist():
    text = GOOD.replace("Europe/Berlin", "Mars/Olympus_Mons")
    [found] = problems(text)
    assert found.startswith(f"c1.toml:{line_of(text, 'Mars')}: cohort.timezone:")
    assert "unknown time zone 'Mars/Olympus_Mons'" in found


def test_an_onboarding_step_after_day_14():
    text = GOOD.replace("day = 0", "day = 15")
    [found] = problems(text)
    assert found.startswith(f"c1.toml:{line_of(text, 'day = 15')}: onboarding.steps#1.day:")
    assert "must be at most 14 (got 15): the onboarding lasts 14 days" in found


def test_two_routines_at_the_same_time():
    second = (
        '\n[[cadence.routines]]\nkey = "wins"\ntitle = "Wins"\nday = "Tuesday"\n'
        'time = "10:00:00"\nprompt = "Wins?"\n'
    )
    text = GOOD + second
    [found] = problems(text)
    second_time = line_of(text, "10:00:00")
    assert found.startswith(f"c1.toml:{second_time}: ")
    assert "cadence.routines#2.time" in found and "same time as cadence.routines#1" in found


def test_a_template_with_an_undefined_variable_is_refused_at_validate():
    text = GOOD.replace("{{ week }}", "{{ weak }}")
    [found] = problems(text)
    assert found.startswith(f"c1.toml:{line_of(text, 'weak')}: cadence.routines#1.prompt:")
    assert "'weak' is undefined" in found and "variables: cohort, date, host, routine" in found
    text = GOOD.replace("{{ name }}", "{{ name.first }}")
    assert "onboarding.steps#1.text" in problems(text)[0]
    assert "template" in problems(GOOD.replace("{{ name }}", "{% if %}"))[0]


def test_every_problem_is_listed_at_once_in_line_order():
    text = (
        GOOD.replace("Europe/Berlin", "Nowhere/Land")
        .replace('day = "tuesday"', 'day = "funday"')
        .replace("day = 0", "day = 21")
        .replace("{{ week }}", "{{ nope }}")
        .replace('slug = "c1"', 'slug = "c1"\nextra = true')
    )
    found = problems(text)
    assert len(found) == 5, found
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines)


def test_syntax_errors_and_missing_sections_are_named():
    [found] = problems("[cohort\nslug = 1")
    assert found.startswith("c1.toml:1:")
    found = problems("[cadence]\n")
    assert any("cohort: is required" in p for p in found)


def test_post_in_needs_an_anchor_and_keys_are_unique():
    text = GOOD.replace('action = "ack_charter"', 'action = "post_in"') + (
        '\n[[onboarding.steps]]\nkey = "welcome"\nday = 2\ntitle = "t"\ntext = "x"\n'
        'action = "none"\n'
    )
    found = problems(text)
    assert any("onboarding.steps#1.anchor: a post_in step needs" in p for p in found)
    assert any("onboarding.steps#2.key: 'welcome' is also step #1" in p for p in found)


def test_load_reports_a_missing_file(tmp_path):
    with pytest.raises(CohortFileError) as err:
        load_cohort_file(tmp_path / "nope.toml")
    assert "nope.toml" in str(err.value)


def test_key_lines_follow_tables_arrays_and_multiline_values():
    text = (
        '[a]\nx = """\nb = 1\n"""\ny = [\n  1,\n  2,\n]\nz = { p = 1, q = 2 }\n'
        "[[a.items]]\nk = 1\n[[a.items]]\nk = 2\n[a.items.sub]\nm = 3\n"
    )
    lines = KeyLines(text)
    assert lines.line_of(("a", "x")) == 2
    assert lines.line_of(("a", "b")) is None or lines.line_of(("a", "b")) == 1
    assert lines.line_of(("a", "y", 1)) == 5
    assert lines.line_of(("a", "z", "q")) == 9
    assert lines.line_of(("a", "items", 1, "k")) == 13
    assert lines.line_of(("a", "items", 1, "sub", "m")) == 15


def test_wall_clock_times_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    # 09:00 stays 09:00 local: its UTC instant moves by an hour across the change.
    assert at_local(date(2027, 3, 23), time(9), berlin) == datetime(2027, 3, 23, 8, tzinfo=UTC)
    assert at_local(date(2027, 3, 30), time(9), berlin) == datetime(2027, 3, 30, 7, tzinfo=UTC)
    # 02:30 does not exist on 28 March 2027: it happens when the clock would have shown it.
    gap = at_local(date(2027, 3, 28), time(2, 30), berlin)
    assert gap == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert gap.astimezone(berlin).strftime("%H:%M %Z") == "03:30 CEST"
    # 02:30 exists twice on 31 October 2027: the first one, on summer time.
    fold = at_local(date(2027, 10, 31), time(2, 30), berlin)
    assert fold == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_nth_weekday_of_a_month():
    assert nth_weekday(2027, 3, 3, 1) == date(2027, 3, 4)  # first Thursday
    assert nth_weekday(2027, 3, 3, -1) == date(2027, 3, 25)  # last Thursday
    assert nth_weekday(2027, 12, 4, -1) == date(2027, 12, 31)


def test_the_kit_ships_at_least_30_community_prompts():
    prompts = community_prompts()
    assert len(prompts) >= 30
    assert len({k for k, _ in prompts}) == len(prompts)
    assert all(len(text) > 40 for _, text in prompts)


def test_the_stored_file_reads_back_equal_without_validating_again():
    from nbcohort.cohorts.cohort_file import CohortFile, from_stored

    spec, _ = load_cohort_file(EXAMPLE)
    back = from_stored(CohortFile, spec.model_dump(mode="json"))
    assert back == spec
    assert back.cadence.routines[0].time == time(10, 0)
    assert back.cohort.starts_on == date(2027, 3, 1) and back.cadence.until is None
