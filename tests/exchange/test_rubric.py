"""Rubric and review settings in course.toml: the example course's rubric reads as written,
and each malformed rubric is refused with the file and the key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nbcohort.cohorts.course import CourseError
from nbcohort.exchange.rubric import load_review_spec

REPO = Path(__file__).resolve().parents[2]
HEAD = '[course]\nid = "c"\n[assignments.p]\nreviewers = 2\n'
LEVELS = (
    '[[assignments.p.rubric.criteria.levels]]\npoints = 0\ntitle = "No"\n'
    '[[assignments.p.rubric.criteria.levels]]\npoints = 2\ntitle = "Yes"\n'
)
ONE = '[[assignments.p.rubric.criteria]]\nid = "clarity"\ncell = "b1"\n' + LEVELS


def test_the_example_course_rubric() -> None:
    spec = load_review_spec(REPO / "course" / "course.toml", "project-1")
    assert [c.id for c in spec.criteria] == ["question", "evidence", "recommendation"]
    assert [c.cell for c in spec.criteria] == ["b1-question", "b3-findings", "b4-recommendation"]
    assert all((c.minimum, c.maximum) == (0, 3) for c in spec.criteria)
    assert spec.reviewers == 3 and spec.anonymity == "double-blind" and spec.required_comments
    assert spec.rubric_json()[0]["levels"][3]["title"] == "Strong"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "no [assignments.q]"),
        (HEAD, "rubric: a peer-reviewed assignment needs rubric criteria"),
        (
            HEAD + '[[assignments.p.rubric.criteria]]\nid = "Bad Id"\n' + LEVELS,
            "criteria #1.id: 'Bad Id'",
        ),
        (
            HEAD + '[[assignments.p.rubric.criteria]]\nid = "x"\n'
            '[[assignments.p.rubric.criteria.levels]]\npoints = 1\ntitle = "Only"\n',
            "criteria #1.levels: a criterion needs at least two levels",
        ),
        (
            HEAD + '[[assignments.p.rubric.criteria]]\nid = "x"\n'
            '[[assignments.p.rubric.criteria.levels]]\npoints = -1\ntitle = "A"\n',
            "levels #1.points: expected a number >= 0, got -1",
        ),
        (
            HEAD + '[[assignments.p.rubric.criteria]]\nid = "x"\n' + LEVELS.replace("2", "0"),
            "two levels have the same points",
        ),
        (HEAD + ONE + ONE, "criterion ids repeat"),
        (
            HEAD.replace("reviewers = 2", 'anonymity = "secret"') + ONE,
            "anonymity: 'secret' is not one of double-blind, author-visible, open",
        ),
        (HEAD.replace("reviewers = 2", "reviewers = 0") + ONE, "reviewers: expected a number >= 1"),
        (
            HEAD.replace("reviewers = 2", "self_assessment = 'yes'") + ONE,
            "self_assessment: expected true or false",
        ),
        (
            HEAD.replace("reviewers = 2", "calibration_samples = 2") + ONE,
            "calibration_samples: 2 asked, 0 calibration items given",
        ),
        (
            HEAD + ONE + '[[assignments.p.calibration]]\nnotebook = "missing.ipynb"\n',
            "calibration #1.notebook: no such file",
        ),
    ],
)
def test_bad_rubrics_name_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "course.toml"
    path.write_text(body or '[course]\nid = "c"\n')
    with pytest.raises(CourseError, match=re.escape(message)) as err:
        load_review_spec(path, "q" if not body else "p")
    assert str(path) in str(err.value)


def test_calibration_scores_must_be_levels(tmp_path: Path) -> None:
    (tmp_path / "sample.ipynb").write_text("{}")
    path = tmp_path / "course.toml"
    item = '[[assignments.p.calibration]]\nnotebook = "sample.ipynb"\nscores = {clarity = %s}\n'
    path.write_text(HEAD + ONE + item % "1")
    with pytest.raises(CourseError, match=r"calibration #1.scores.clarity: 1 is not a level"):
        load_review_spec(path, "p")
    path.write_text(HEAD + ONE + item % "2")
    spec = load_review_spec(path, "p")
    assert spec.calibration_samples == 1 and spec.calibration[0].scores == {"clarity": 2.0}
