"""Fuzzing the routes of ideas, pilots and nudges with their own fields (the general route
fuzzer draws bodies from other routes' fields): whatever the values and the role, never a
500, always the API's JSON, and a refused request writes nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbcohort.cohorts.services.ideas import mark_idea
from tests.api.test_fuzz_routes import Live, live  # noqa: F401 - the fixture
from tests.helpers.community import SYSTEM

pytestmark = pytest.mark.slow
FIELDS = ["owner_id", "goal", "measure", "review_on", "title", "reason", "note", "status",
          "outcome"]  # fmt: skip
ROUTES = [
    ("PUT", "/api/v1/posts/{}/idea"), ("GET", "/api/v1/ideas"),
    ("PUT", "/api/v1/ideas/{}/endorsement"), ("POST", "/api/v1/ideas/{}/decline"),
    ("POST", "/api/v1/ideas/{}/pilot"), ("GET", "/api/v1/pilots"), ("GET", "/api/v1/pilots/{}"),
    ("POST", "/api/v1/pilots/{}/updates"), ("GET", "/api/v1/nudges"),
]  # fmt: skip
values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12),
    st.sampled_from(["2099-01-01", "2001-01-01", "20990101", "done", "stopped", "active"]),
    st.integers(min_value=-(2**64), max_value=2**64), st.integers(min_value=1, max_value=6),
    st.lists(st.integers(min_value=-5, max_value=2**40), max_size=3),
)  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
queries = st.dictionaries(
    st.sampled_from(["state", "status", "anchor"]),
    st.one_of(st.text(max_size=12), st.sampled_from(["open", "escalated", "done", "module-1/a"])),
    max_size=2,
)
SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
IDS = st.one_of(st.sampled_from(["1", "2", "3"]), st.from_regex(r"[0-9]{1,18}", fullmatch=True))


@pytest.fixture(scope="module")
def with_idea(live: Live) -> Live:  # noqa: F811
    """The fuzzer's post is an idea: the routes reach a real one."""
    with live.store.write() as s:
        mark_idea(s, SYSTEM, live.post_id)
    return live


@settings(max_examples=250, deadline=None, suppress_health_check=SLOW_OK)
@given(
    route=st.sampled_from(ROUTES),
    path_value=IDS,
    body=bodies,
    query=queries,
    who=st.sampled_from(["learner", "champion", "facilitator", "sponsor"]),
)  # fmt: skip
def test_idea_routes_never_500_and_refusals_write_nothing(
    with_idea: Live, route: tuple[str, str], path_value: str, body: dict[str, Any],
    query: dict[str, str], who: str,
) -> None:  # fmt: skip
    method, template = route
    path = template.format(path_value) + ("?" + urlencode(query) if query else "")
    with_idea.answers_in_json_writing_nothing_when_refused(method, path, body, who)
