"""The rhythm's routes on a real service process: the charter and its acknowledgement, the
onboarding steps, events and clinic sign-ups, the plan in a member's zone, and the signed
calendar feed that needs no token."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
import requests
from sqlalchemy import select

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import CharterAck, Cohort, Event, utcnow
from nbcohort.cohorts.services.charter import publish_charter
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

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


@pytest.fixture
def rhythm(store, cohort, people):
    """The test cohort with a cohort file: it began yesterday, clinics on the first Thursday."""
    start = (utcnow() - timedelta(days=1)).date().isoformat()
    text = cohort_toml(slug=cohort.slug, starts_on=start, clinic_week=1, timezone="UTC")
    apply_text(store, text, utcnow())
    with store.write() as s:
        publish_charter(s, SYSTEM, s.get_one(Cohort, cohort.id), "# Charter\n\nBe kind.\n")
    return cohort


def client(service, tokens, who):
    return CohortClient(service.url, tokens[who], timeout=10)


def test_charter_is_read_and_acknowledged_through_the_api(rhythm, service, tokens, store):
    ana = client(service, tokens, "ana")
    view = ana.charter()
    assert view["version"] == 1 and view["needs_ack"] and "<h1>Charter</h1>" in view["html"]
    with pytest.raises(ClientError) as err:
        ana.ack_charter(2)
    assert err.value.status == 409 and err.value.field == "version"
    assert ana.ack_charter(1)["acked_version"] == 1
    assert ana.ack_charter(1)["acked_version"] == 1  # again: one row
    with pytest.raises(ClientError) as err:
        client(service, tokens, "sam").ack_charter(1)
    assert err.value.status == 403  # a sponsor reads, does not join
    with store.read() as s:
        acks = select(CharterAck).where(CharterAck.cohort_id == rhythm.id)
        assert len(s.scalars(acks).all()) == 1
    with pytest.raises(ClientError) as err:
        ana.request("POST", "/api/v1/charter/ack", json={"version": "1"})
    assert err.value.status == 422 and err.value.field == "version"


def test_onboarding_steps_through_the_api(rhythm, service, tokens):
    ana = client(service, tokens, "ana")
    status = ana.onboarding()
    assert status["active"] and len(status["steps"]) == 6
    assert status["next"]["step"] == "welcome"
    assert status["steps"][0]["due_local"].endswith("UTC")
    after = ana.onboarding_done("welcome")
    assert after["steps"][0]["status"] == "done"
    with pytest.raises(ClientError) as err:
        ana.onboarding_done("no-such-step")
    assert err.value.status == 404
    assert client(service, tokens, "fay").onboarding()["active"] is False  # staff


def test_events_sign_ups_and_the_plan(rhythm, service, tokens, store):
    ana = client(service, tokens, "ana")
    events = ana.events(days=40)
    clinics = [e for e in events if e["kind"] == "clinic"]
    assert clinics and all(e["signups"] == 0 for e in clinics)
    assert {e["title"] for e in events if e["weekly"]} == {"Top Tip Tuesday", "Friday Wins"}
    first = clinics[0]
    assert ana.signup(first["id"])["signups"] == 1
    assert next(e for e in ana.events(40) if e["id"] == first["id"])["signed_up"]
    assert ana.signup(first["id"], join=False)["signups"] == 0
    with store.read() as s:
        routine = s.scalar(
            select(Event.id).where(Event.kind == "routine", Event.cohort_id == rhythm.id)
        )
    with pytest.raises(ClientError) as err:
        ana.signup(routine)
    assert err.value.status == 403
    with pytest.raises(ClientError) as err:
        ana.signup(999999)
    assert err.value.status == 404
    plan = ana.cadence(days=7)
    assert plan["next"] and all(i["state"] == "planned" for i in plan["next"])
    assert {i["kind"] for i in plan["next"]} >= {"prompt", "routine"}


def test_the_calendar_feed_needs_the_signature_not_a_token(rhythm, service, tokens):
    url = client(service, tokens, "ana").calendar_url()
    answer = requests.get(url, timeout=10)  # no token: the link's signature is the credential
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(answer.content)
    assert {str(e["SUMMARY"]) for e in cal.walk("VEVENT")} >= {"Top Tip Tuesday"}
    forged = url[:-5] + ("A" if url[-5] != "A" else "B") + ".ics"
    bad = requests.get(forged, timeout=10)
    assert bad.status_code == 404 and bad.json()["error"] == "not_found"
    member_id = url.split("/calendar/")[1].split("/")[0]
    other = url.replace(f"/calendar/{member_id}/", f"/calendar/{int(member_id) + 1}/")
    assert requests.get(other, timeout=10).status_code == 404
