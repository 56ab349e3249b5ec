"""A micro-prompt that has not opened shows nothing of itself to a member who may not see it
yet, wherever a thread's title could reach them: the digest's news, a notification's
headline and excerpt (the notebook's list and the email alike), the search. Staff may answer
a prompt before it opens, and a mention there still reaches the member, in neutral words;
once the prompt opens the usual wording returns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from nbcohort.cohorts.config import CommunitySettings, MailSettings
from nbcohort.cohorts.mail import Mailer, queue_digests, queue_notifications
from nbcohort.cohorts.models import OutboxMessage, Post, Prompt, clock_at, utcnow
from nbcohort.cohorts.services import notifications, posts, prompts, reactions, search
from nbcohort.cohorts.services.highlights import gather_highlights
from nbcohort.cohorts.services.thread_list import active_threads
from tests.helpers.community import SYSTEM, actor

ANCHOR = "module-1/reading-files"
SECRET = "SECRET: What would you cut from the budget?"
TRACES = ("SECRET", "budget", "day-9")  # the text, and the key (it may say what it asks)


def hides(text: str | None) -> bool:
    return not any(trace.lower() in (text or "").lower() for trace in TRACES)


def prepare(store, cohort, people, t0) -> None:
    """Prompt day-9 opens in 30 days; the facilitator answers it now, mentioning ana."""
    with store.write() as s:
        prompts.sync_prompts(s, SYSTEM, s.merge(cohort), {"day-9": SECRET})
        s.execute(update(Prompt).values(opens_at=t0 + timedelta(days=30)))
    with clock_at(t0 + timedelta(minutes=1)), store.write() as s:
        prompts.answer_prompt(
            s, actor(people["fay"]), s.merge(cohort), "day-9", "Testing before it opens, @ana"
        )


def outbox(store, kind: str | None = None) -> dict[str, list[OutboxMessage]]:
    out: dict[str, list[OutboxMessage]] = {}
    with store.read() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        for row in s.scalars(query):
            out.setdefault(row.to_addr.split("@")[0], []).append(row)
    return out


def feed(store, member, cohort) -> list[dict]:
    with store.read() as s:
        return notifications.list_notifications(s, actor(member), s.merge(cohort))


def test_the_digest_says_nothing_of_a_prompt_staff_answered_before_it_opens(
    tmp_path, store, cohort, people
):
    t0 = utcnow()
    prepare(store, cohort, people, t0)
    with clock_at(t0 + timedelta(minutes=2)), store.write() as s:
        posts.create_post(s, actor(people["chi"]), s.merge(cohort), ANCHOR, "read_csv tip")
    mailer = Mailer(MailSettings(digest_idle_hours=72), str(tmp_path / "data"))
    with clock_at(t0 + timedelta(hours=73)):
        queue_digests(store, mailer)
    sent = outbox(store, "digest")
    assert {"ana", "ben", "sam"} <= set(sent)
    for who in ("ana", "ben", "sam"):
        digest = sent[who][0]
        assert hides(digest.subject) and hides(digest.body_text) and hides(digest.body_html)
        assert "1 new post" in digest.body_text  # chi's; the answer is not counted
        assert f"- {ANCHOR} (1)" in digest.body_text  # the busiest: chi's thread alone
    assert "Fay Lindqvist mentioned you in a micro-prompt" in sent["ana"][0].body_text


def test_a_digest_with_only_an_unopened_prompts_answer_is_not_sent(tmp_path, store, cohort, people):
    t0 = utcnow()
    prepare(store, cohort, people, t0)
    mailer = Mailer(MailSettings(digest_idle_hours=72), str(tmp_path / "data"))
    with clock_at(t0 + timedelta(hours=73)):
        queue_digests(store, mailer)
    sent = outbox(store, "digest")
    assert "ben" not in sent and "sam" not in sent  # nothing they may see happened
    assert hides(sent["ana"][0].body_text)  # her mention, in neutral words


def test_a_mention_in_an_unopened_prompt_shows_nothing_of_it_until_it_opens(
    tmp_path, store, cohort, people
):
    t0 = utcnow()
    prepare(store, cohort, people, t0)
    with clock_at(t0 + timedelta(minutes=2)):
        [note] = feed(store, people["ana"], cohort)
        assert note["headline"] == "Fay Lindqvist mentioned you in a micro-prompt"
        assert note["kind"] == "mention" and note["excerpt"] == ""
        assert note["anchor"] is None and note["link"] is None
        assert all(hides(str(v)) for v in note.values())
        # Staff see the prompt they prepare.
        with store.write() as s:
            posts.create_post(s, actor(people["ivo"]), s.merge(cohort), ANCHOR, "@fay fine")
            prompts.answer_prompt(
                s, actor(people["ivo"]), s.merge(cohort), "day-9", "Mine too, @fay"
            )
        staff = [n["headline"] for n in feed(store, people["fay"], cohort)]
        assert f"Ivo Petrov mentioned you in {SECRET}" in staff
    mailer = Mailer(MailSettings(notify_delay_minutes=0.0), str(tmp_path / "data"))
    with clock_at(t0 + timedelta(minutes=3)):
        queue_notifications(store, mailer)
    [mail] = outbox(store)["ana"]
    assert mail.subject == "Fay Lindqvist mentioned you in a micro-prompt"
    assert hides(mail.subject) and hides(mail.body_text) and hides(mail.body_html)
    assert "Testing before it opens" not in mail.body_text
    # Once it has opened, the usual words; the answer itself follows answers-first.
    with clock_at(t0 + timedelta(days=31)):
        [note] = feed(store, people["ana"], cohort)
        assert note["headline"] == f"Fay Lindqvist mentioned you in {SECRET}"
        assert note["anchor"] == "prompt/day-9" and note["excerpt"] == ""
        with store.write() as s:
            prompts.answer_prompt(s, actor(people["ana"]), s.merge(cohort), "day-9", "Snacks")
        [note] = feed(store, people["ana"], cohort)
        assert note["excerpt"] == "Testing before it opens, @ana"


def test_the_search_finds_no_unopened_prompt_for_a_learner(store, cohort, people):
    t0 = utcnow()
    prepare(store, cohort, people, t0)
    with clock_at(t0 + timedelta(minutes=2)), store.read() as s:
        found = search.search(s, actor(people["ana"]), s.merge(cohort), "budget")
        assert found["threads"] == [] and found["posts"] == []
        found = search.search(s, actor(people["ana"]), s.merge(cohort), "testing opens")
        assert found["posts"] == []
        staff = search.search(s, actor(people["fay"]), s.merge(cohort), "budget")
        assert [t["prompt"] for t in staff["threads"]] == ["day-9"]


def test_highlights_and_the_activity_page_leave_the_unopened_prompt_out(store, cohort, people):
    t0 = utcnow()
    prepare(store, cohort, people, t0)
    kind = CommunitySettings().reactions[0]
    with clock_at(t0 + timedelta(minutes=2)), store.write() as s:
        [answer] = s.scalars(select(Post.id)).all()
        reactions.react(s, actor(people["ivo"]), answer, kind)  # staff may, before it opens
    with clock_at(t0 + timedelta(minutes=3)), store.read() as s:
        c = s.merge(cohort)
        lit = gather_highlights(s, c, t0, t0 + timedelta(hours=1), 5, "highlights/x")
        assert lit.posts == []
        assert active_threads(s, actor(people["ana"]), c) == []
