"""The buttons the widgets offer against a real service: a topic's posts react, flag and reply
through their buttons (a guest in another cohort's topic included, without staff, champion or
idea buttons there); champions and staff pin, welcome and host from the discussion, and the
buttons are hidden from everyone else, whom the service still refuses."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Cohort, Member, PostPin, utcnow
from nbcohort.cohorts.services import community
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.widgets import discussion, topics
from nbcohort.widgets.discussion import Discussion
from nbcohort.widgets.topics import TopicPostCard, Topics
from tests.helpers.graduation import cohort_file, make_cohort

pytestmark = pytest.mark.slow
SYSTEM = Actor.system()
ROUTINE = "topic/top-tip"  # the thread the cohort file's routine posts in


def _apply(store, slug: str, community_name: str | None = "pandas-practice") -> None:
    """The test cohort's file, started today: its weekly routine is still ahead."""
    text = cohort_file(slug, community_name, starts=utcnow().date())
    spec, problems = check_cohort_file(text, "c.toml")
    assert spec is not None, problems
    with store.write() as s:
        apply_cohort_file(s, SYSTEM, spec, hashlib.sha256(text.encode()).hexdigest())


def press(card, label: str) -> None:
    buttons = {b.description: b for b in card.expand().actions.children}
    buttons[label].click()


def test_a_guest_reacts_flags_and_replies_in_another_cohorts_topic(
    as_member, store, cohort, people
):
    _apply(store, cohort.slug)
    autumn = make_cohort(store, "autumn", "pandas-practice")
    with store.write() as s:
        for c in s.scalars(select(Cohort)):
            graduate(s, SYSTEM, c)
        s.get_one(Member, autumn["ben"].id).directory_opt_in = True  # findable across cohorts
        started = community.create_topic(
            s, Actor.of(s.get_one(Member, autumn["ana"].id)),
            s.scalar(select(Cohort).where(Cohort.slug == "autumn")),
            "merge-tips", "Merge tips", "How do you check a merge?",
        )  # fmt: skip
    as_member("fay")  # the test cohort's facilitator: a guest in autumn's topic
    box = topics()
    assert isinstance(box, Topics)
    box.open_topic("merge-tips")
    (card,) = box.posts.children
    assert isinstance(card, TopicPostCard) and "check a merge" in card.body.value
    labels = card.action_labels()
    assert labels == ["helpful", "+1", "insightful", "Reply", "Flag"]  # no Hide, Pin, Idea
    press(card, "helpful")
    assert card.post["reactions"] == {"helpful": 1}, card.panel.note.value
    press(card, "Flag")
    reason, confirm = card.panel.form.children
    reason.value = "off topic"
    confirm.click()
    assert "flag: done" in card.panel.note.value
    press(card, "Reply")
    card.reply_box.text.value = "Use `validate='one_to_one'`, @ben-autumn"
    card.reply_box.show_preview()  # mentions resolve as posting in the topic will
    ben = f'data-member="{autumn["ben"].id}"'
    assert ben in card.reply_box.preview.value, card.reply_box.status.value
    card.reply_box.send_button.click()
    assert len(card.replies.children) == 1
    assert "one_to_one" in card.replies.children[0].body.value
    assert ben in card.replies.children[0].body.value
    page = box.conn.client.topic("merge-tips")
    assert page["posts"][0]["id"] == started["post"]["id"] and len(page["posts"][0]["replies"])


def test_champions_pin_welcome_and_host_others_see_no_buttons(
    as_member, store, cohort, people, service, tokens
):
    _apply(store, cohort.slug, None)
    ana = CohortClient(service.url, tokens["ana"], timeout=30)
    first = ana.post(ROUTINE, "my very first post")
    ana.close()
    as_member("ben")  # a learner: no champion buttons, and the service refuses anyway
    d = discussion(ROUTINE, expanded=True)
    assert isinstance(d, Discussion)
    card = d.posts.children[0]
    assert not {"Pin", "Welcome"} & set(card.action_labels())
    assert d.host_line is not None and d.host_line.children == ()
    with pytest.raises(ClientError) as refused:
        d.conn.client.pin(first["id"])
    assert refused.value.status == 403 and "post.pin" in refused.value.message

    as_member("chi")  # a champion
    d = discussion(ROUTINE, expanded=True)
    card = d.posts.children[0]
    assert {"Pin", "Welcome"} <= set(card.action_labels())
    press(card, "Pin")
    assert "Unpin" in card.action_labels() and "pinned" in card.panel.note.value
    with store.read() as s:
        assert s.scalar(select(PostPin.post_id)) == first["id"]
    press(card, "Welcome")
    assert card.post["reactions"].get("welcome") == 1, card.panel.note.value
    assert "Welcome" not in card.action_labels()  # welcomed once
    host = d.host_line
    assert host is not None and host.routine is not None
    host.host_button.click()
    assert "you host" in host.note.value and host.host_button.disabled
