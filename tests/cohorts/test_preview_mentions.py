"""The compose box's preview resolves @mentions as posting will, through the real services
layer and the real HTTP service on SQLite and PostgreSQL: in a community topic (whichever
cohort of the community started it) among the community's members one may find there (one's
own cohort, those listed in the directory, those who posted in it); in a course thread, or
with no thread named, among the cohort's own; never another community's members; a bad
anchor refused by name."""

from __future__ import annotations

from contextlib import closing

import pytest

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services import community
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.post_preview import preview_post
from nbcohort.cohorts.store import Store
from tests.cohorts.test_community_topics import SYSTEM, _as, _cohort, _start, world
from tests.helpers.processes import ServiceProcess

__all__ = ["world"]  # the fixture: spring, autumn (pandas-practice), elsewhere, winter

BODY = "ask @ben-spring, @chi-autumn and @ana-elsewhere"


def _preview(store: Store, member: Member, slug: str, anchor: str | None) -> str:
    with store.read() as s:
        return preview_post(s, _as(s, member), _cohort(s, slug), BODY, anchor=anchor)


def _named(html: str, world: dict) -> set[str]:
    people = {"ben-spring": world["spring"]["ben"], "chi-autumn": world["autumn"]["chi"],
              "ana-elsewhere": world["elsewhere"]["ana"]}  # fmt: skip
    return {u for u, m in people.items() if f'data-member="{m.id}"' in html}


def _listed(store: Store, world: dict) -> None:
    """ben-spring and chi-autumn opt into the community's directory: findable across it."""
    with store.write() as s:
        for slug, name in (("spring", "ben"), ("autumn", "chi")):
            s.get_one(Member, world[slug][name].id).directory_opt_in = True


def test_a_preview_in_a_topic_matches_the_post_it_becomes(store: Store, world: dict) -> None:
    _listed(store, world)
    _start(store, world["spring"]["ana"])  # spring starts topic/merge-tips
    guest = world["autumn"]["ana"]
    preview = _preview(store, guest, "autumn", "topic/merge-tips")
    assert _named(preview, world) == {"ben-spring", "chi-autumn"}
    with store.write() as s:
        posted = community.post_in_topic(s, _as(s, guest), _cohort(s, "autumn"), "merge-tips",
                                         BODY)  # fmt: skip
    assert posted["html"] == preview
    # the topic's own cohort previews it the same way
    assert _preview(store, world["spring"]["chi"], "spring", "topic/merge-tips") == preview


def test_in_a_topic_a_member_not_listed_in_another_cohort_stays_text(
    store: Store, world: dict
) -> None:
    _start(store, world["spring"]["ana"])
    guest = world["autumn"]["ana"]
    assert _named(_preview(store, guest, "autumn", "topic/merge-tips"), world) == {"chi-autumn"}


def test_a_course_thread_or_no_thread_resolves_in_the_cohort(store: Store, world: dict) -> None:
    _listed(store, world)
    _start(store, world["spring"]["ana"])
    guest = world["autumn"]["ana"]
    assert _named(_preview(store, guest, "autumn", "module-1/loading"), world) == {"chi-autumn"}
    assert _named(_preview(store, guest, "autumn", None), world) == {"chi-autumn"}
    # a topic name nobody has started yet is a thread of one's own cohort
    assert _named(_preview(store, guest, "autumn", "topic/new-one"), world) == {"chi-autumn"}


def test_another_community_or_a_cohort_not_graduated_reaches_no_one_else(
    store: Store, world: dict
) -> None:
    _start(store, world["spring"]["ana"])
    for slug in ("elsewhere", "winter"):
        found = _named(_preview(store, world[slug]["ana"], slug, "topic/merge-tips"), world)
        assert found <= {"ana-elsewhere"}, (slug, found)


@pytest.mark.parametrize("anchor", ["../etc", "a b", "x" * 201, "/"])
def test_a_bad_anchor_is_refused_naming_it(store: Store, world: dict, anchor: str) -> None:
    with pytest.raises(Invalid) as refused:
        _preview(store, world["autumn"]["ana"], "autumn", anchor)
    assert refused.value.field == "anchor"


def test_the_preview_route_takes_the_thread(
    store: Store, world: dict, service: ServiceProcess
) -> None:
    _listed(store, world)
    _start(store, world["spring"]["ana"])
    with store.write() as s:
        token = mint_token(s, SYSTEM, s.get_one(Member, world["autumn"]["ana"].id), "test")
    with closing(CohortClient(service.url, token, timeout=10)) as client:
        in_topic = client.preview(BODY, anchor="topic/merge-tips")
        at_home = client.preview(BODY)
        with pytest.raises(ClientError) as refused:
            client.preview(BODY, anchor="a b")
    assert _named(in_topic, world) == {"ben-spring", "chi-autumn"}
    assert _named(at_home, world) == {"chi-autumn"}
    assert refused.value.status == 422 and refused.value.field == "anchor"
