"""The X-Nbcohort-Cohort header with local tokens: a token is one member's in one cohort, so a
request naming another cohort is refused, and a header no slug can be is a clear 422. (With
hub tokens, where one hub user may be on several rosters: tests/api/test_hub_identity.py.)"""

from __future__ import annotations

import pytest
import requests

from nbcohort.cohorts.client import ClientError, CohortClient


def me(service, token: str, cohort: str | bytes | None) -> requests.Response:
    headers: dict[str, str | bytes] = {"Authorization": f"token {token}"}
    if cohort is not None:
        headers["X-Nbcohort-Cohort"] = cohort
    return requests.get(service.url + "/api/v1/me", headers=headers, timeout=10)


def test_a_local_token_in_the_cohort_it_names_and_no_other(service, tokens):
    assert me(service, tokens["ana"], "spring-26").json()["member"]["username"] == "ana"
    assert me(service, tokens["ana"], None).status_code == 200
    assert me(service, tokens["ana"], "").status_code == 200  # empty: not named
    other = me(service, tokens["ana"], "autumn-26")
    assert other.status_code == 403, other.text
    assert "not a member's of cohort 'autumn-26'" in other.json()["message"]
    long = me(service, tokens["ana"], "x" * 65)
    assert long.status_code == 422
    assert long.json()["field"] == "X-Nbcohort-Cohort"
    assert "over 64 characters" in long.json()["message"]
    odd = me(service, tokens["ana"], b"spring-26\xff")
    assert odd.status_code == 422, odd.text
    assert odd.json()["field"] == "X-Nbcohort-Cohort"
    for control in ("spring\x01", "spring-26\x7f"):  # Tornado refuses a few itself (400)
        assert me(service, tokens["ana"], control).status_code in (400, 422)
    # No token: still a 401 first, whatever the header says.
    assert (
        requests.get(
            service.url + "/api/v1/me", headers={"X-Nbcohort-Cohort": "spring-26"}, timeout=10
        ).status_code
        == 401
    )


def test_the_client_sends_its_cohort(service, tokens, monkeypatch):
    monkeypatch.setenv("NBCOHORT_COHORT", "spring-26")
    assert CohortClient(service.url, tokens["ben"]).me()["member"]["username"] == "ben"
    wrong = CohortClient(service.url, tokens["ben"], cohort="autumn-26")
    with pytest.raises(ClientError, match="autumn-26") as refused:
        wrong.me()
    assert refused.value.status == 403
