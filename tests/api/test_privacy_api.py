"""A member's own data and leaving, and the pulse survey, through a real ``nbcohort serve``:
the export ZIP read back (twice at once), leaving with its confirmation, the name gone from
what others read, and the pulse threshold checked as every role."""

from __future__ import annotations

import json
import re
import threading
import zipfile
from datetime import timedelta

import pytest
import requests

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Cohort, Member, PulseSurvey, utcnow
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.pulse import answer_survey, open_survey
from tests.helpers.community import SYSTEM

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

pytestmark = pytest.mark.slow
ANCHOR = "module-1/loading-data"


@pytest.fixture
def clients(service, tokens):
    made = {name: CohortClient(service.url, tok, timeout=30) for name, tok in tokens.items()}
    yield made
    for c in made.values():
        c.close()


def _text(path) -> tuple[zipfile.ZipFile, str]:
    z = zipfile.ZipFile(path)
    assert z.testzip() is None
    return z, "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def test_two_exports_at_once_each_give_a_whole_archive(clients, people, tmp_path):
    ana, ben = clients["ana"], clients["ben"]
    q = ben.post(ANCHOR, "Ben Okafor asks about dtypes")
    ana.post(ANCHOR, "@ben use astype; fay@example.org agrees", parent_id=q["id"])
    ana.share("tips.py", b"print('tips')\n", "Tips", "for Chi Nguyen", ["io"])
    out = tmp_path / "downloads"
    out.mkdir()
    sizes: list[int] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            sizes.append(
                CohortClient(ana.url, ana.token, timeout=30).export_my_data(out / f"{i}.zip")
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(sizes) == 2
    assert sorted(p.name for p in out.iterdir()) == ["0.zip", "1.zip"]  # no temp file left
    for i in range(2):
        z, text = _text(out / f"{i}.zip")
        assert len(json.loads(z.read("posts.json"))) == 1
        assert z.read(json.loads(z.read("artifacts.json"))[0]["file"]) == b"print('tips')\n"
        for username, member in people.items():
            if username != "ana":
                for word in (member.name, member.email, username):
                    assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I), word


def test_the_export_route_needs_a_token(service):
    resp = requests.get(service.url + "/api/v1/me/export", timeout=10)
    assert resp.status_code == 401 and resp.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "confirm"), ({"confirm": "yes"}, "confirm"), ({"confirm": True}, "confirm"),
     ({"confirm": "leave", "reason": 5}, "reason"), ({"confirm": "leave", "posts": "x"}, None)],
)  # fmt: skip
def test_leaving_needs_its_confirmation(clients, store, people, body, field):
    if field is None:  # an unknown field is ignored: a member cannot choose the posts rule
        assert clients["ana"].request("POST", "/api/v1/me/leave", json=body)["posts"] == "keep"
        return
    with pytest.raises(ClientError) as err:
        clients["ana"].request("POST", "/api/v1/me/leave", json=body)
    assert err.value.status == 422 and err.value.field == field
    with store.read() as s:
        assert s.get_one(Member, people["ana"].id).left_at is None


def test_a_member_leaves_through_the_api(clients, store, people, tmp_path):
    ana, ben = clients["ana"], clients["ben"]
    mine = ana.post(ANCHOR, "Quetzal question from me")
    ben.post(ANCHOR, "an answer", parent_id=mine["id"])
    assert ben.thread(ANCHOR)["posts"][0]["author"]["name"] == "Ana Souza"  # now in the cache
    done = ana.leave("moving teams")
    assert done["posts"] == "keep" and done["tokens_revoked"] == 1 and not done["already_left"]
    with pytest.raises(ClientError) as err:  # at once, not after the token cache expires
        ana.me()
    assert err.value.status == 401
    with pytest.raises(ClientError) as err:
        ana.leave()
    assert err.value.status == 401
    page = ben.thread(ANCHOR)
    assert page["posts"][0]["author"]["name"] == "former member"
    assert page["posts"][0]["author"]["username"] == ""
    assert page["posts"][0]["replies"][0]["author"]["name"] == "Ben Okafor"
    found = ben.search("quetzal")["posts"]
    assert [p["author"]["name"] for p in found] == ["former member"]
    assert "ana" not in [m["username"] for m in ben.members()]
    ben.export_my_data(tmp_path / "ben.zip")
    _z, text = _text(tmp_path / "ben.zip")
    for word in ("Ana Souza", "ana@example.org", "ana"):
        assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I), word


ROLES = ["ana", "chi", "fay", "ivo", "sam"]


def _survey(store, cohort, closed: bool) -> int:
    now = utcnow()
    with store.write() as s:
        return open_survey(
            s, s.get_one(Cohort, cohort.id), f"pulse:{closed}", title="Pulse",
            questions=["Q1", "Q2", "Q3"], free_text="Else?", opens_at=now - timedelta(days=2),
            closes_at=now + timedelta(days=1), min_answers=5,
        ).id  # fmt: skip


def _answers(store, cohort, sid: int, n: int) -> None:
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        for i in range(n):
            m = add_member(s, SYSTEM, c, name=f"Learner {i}", email=f"l{i}@example.org")
            s.flush()
            answer_survey(s, Actor.of(m), c, sid, [1 + i % 5, 2, 4], f"note {i}")
        s.get_one(PulseSurvey, sid).closes_at = utcnow() - timedelta(seconds=1)


def test_pulse_answers_through_the_api(clients, store, cohort):
    sid = _survey(store, cohort, closed=False)
    ana = clients["ana"]
    assert ana.pulse()["survey"]["id"] == sid and not ana.pulse()["answered"]
    for scores in ([0, 3, 3], [6, 3, 3], ["3", 3, 3], [3.0, 3, 3], [True, 3, 3], [], [3] * 6,
                   [3, 3], [2**63, 3, 3], None):  # fmt: skip
        with pytest.raises(ClientError) as err:
            ana.request("POST", f"/api/v1/pulse/{sid}/answers", json={"scores": scores})
        assert err.value.status == 422 and err.value.field == "scores", scores
    with pytest.raises(ClientError) as err:
        ana.request("POST", f"/api/v1/pulse/{sid}/answers", json={"scores": [3, 3, 3], "text": 1})
    assert err.value.status == 422 and err.value.field == "text"
    assert ana.answer_pulse(sid, [3, 4, 5], "ok")["answered"]
    assert ana.pulse()["answered"]
    with pytest.raises(ClientError) as err:
        ana.answer_pulse(sid, [1, 1, 1])
    assert err.value.status == 409 and err.value.field == "survey_id"
    with pytest.raises(ClientError) as err:
        clients["sam"].answer_pulse(sid, [3, 3, 3])
    assert err.value.status == 403
    with pytest.raises(ClientError) as err:
        ana.answer_pulse(99999999999999, [3, 3, 3])
    assert err.value.status == 404 and err.value.field == "survey_id"
    with store.write() as s:
        s.get_one(PulseSurvey, sid).closes_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(ClientError) as err:
        clients["ben"].answer_pulse(sid, [3, 3, 3])
    assert err.value.status == 409 and err.value.field == "survey_id"


@pytest.mark.parametrize("answered", [4, 5])
def test_pulse_results_as_every_role(clients, service, store, cohort, answered):
    sid = _survey(store, cohort, closed=True)
    _answers(store, cohort, sid, answered)
    for who in ROLES:
        [run] = clients[who].pulse_results()["surveys"]
        if answered < 5:
            assert run["withheld"] and "answers" not in run and run["comments"] is None
            assert all(set(q) == {"question"} for q in run["questions"]), who
        else:
            assert run["answers"] == 5 and run["questions"][1]["mean"] == 2.0
            comments = run["comments"]
            if who in ("fay", "ivo", "sam"):
                assert sorted(c["text"] for c in comments) == [f"note {i}" for i in range(5)]
            else:
                assert comments is None, who
    with store.write() as s:  # another cohort's instructor
        other = create_cohort(s, SYSTEM, f"autumn-{cohort.id}", "Autumn")
        oz = add_member(s, SYSTEM, other, name="Oz", email="oz@example.org", role="instructor")
        s.flush()
        token = mint_token(s, SYSTEM, oz)
    oz_client = CohortClient(service.url, token, timeout=10)
    assert oz_client.pulse_results()["surveys"] == []
    with pytest.raises(ClientError) as err:
        oz_client.answer_pulse(sid, [3, 3, 3])
    assert err.value.status == 404
    oz_client.close()
