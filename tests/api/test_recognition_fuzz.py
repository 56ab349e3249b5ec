"""Fuzzing the recognition routes with their own fields (the general route fuzzer draws
bodies from other routes' fields): whatever the values and the role, never a 500, always the
API's JSON, and a refused request writes nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_fuzz_routes import Live, live  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
FIELDS = ["member_id", "badge", "reason", "badges_hidden", "champion_opt_out", "key", "week",
          "member_ids", "note"]  # fmt: skip
ROUTES = [
    ("GET", "/api/v1/badges"), ("POST", "/api/v1/badges/revoke"),
    ("GET", "/api/v1/members/{}/badges"), ("PUT", "/api/v1/me/recognition"),
    ("GET", "/api/v1/champions/suggestions"), ("POST", "/api/v1/members/{}/champion"),
    ("PUT", "/api/v1/posts/{}/pin"), ("DELETE", "/api/v1/posts/{}/pin"), ("GET", "/api/v1/pins"),
    ("POST", "/api/v1/posts/{}/welcome"), ("POST", "/api/v1/routines/host"),
    ("GET", "/api/v1/spotlight"), ("PUT", "/api/v1/spotlight"),
]  # fmt: skip
values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12), st.sampled_from(["first-post", "2026-03-02"]),
    st.integers(min_value=-(2**64), max_value=2**64), st.integers(min_value=1, max_value=6),
    st.lists(st.integers(min_value=-5, max_value=2**40), max_size=12),
)  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=5)
queries = st.dictionaries(
    st.sampled_from(["members", "count", "anchor", "week"]),
    st.one_of(st.text(max_size=12), st.sampled_from(["1,2,3", "12", "module-1/a", "2026-03-02"])),
    max_size=3,
)


SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
IDS = st.one_of(
    st.sampled_from(["1", "2", "3", "4"]), st.from_regex(r"[0-9]{1,18}", fullmatch=True)
)


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_OK)
@given(
    route=st.sampled_from(ROUTES),
    path_value=IDS,
    body=bodies,
    query=queries,
    who=st.sampled_from(["learner", "champion", "facilitator", "sponsor"]),
)  # fmt: skip
def test_recognition_routes_never_500_and_refusals_write_nothing(
    live: Live, route: tuple[str, str], path_value: str, body: dict[str, Any],  # noqa: F811
    query: dict[str, str], who: str,
) -> None:  # fmt: skip
    method, template = route
    path = template.format(path_value) + ("?" + urlencode(query) if query else "")
    live.answers_in_json_writing_nothing_when_refused(method, path, body, who)
