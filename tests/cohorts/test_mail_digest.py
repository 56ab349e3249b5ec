"""The digest of what a member missed: only for members away long enough, never more than
one per interval, none when nothing happened, none for members who opted out or have no
address; two runs at once queue one; and review notifications where rounds open and close."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from nbcohort.cohorts.config import MailSettings
from nbcohort.cohorts.mail import Mailer, queue_digests
from nbcohort.cohorts.models import (
    Cohort,
    Member,
    Notification,
    OutboxMessage,
    ReviewRound,
    clock_at,
    utcnow,
)
from nbcohort.cohorts.services import posts, review_rounds
from nbcohort.cohorts.services.review_rounds import NewSubmission
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM, actor

ANCHOR = "module-1/reading-files"


def digests(store) -> dict[str, list[OutboxMessage]]:
    out: dict[str, list[OutboxMessage]] = {}
    with store.read() as s:
        for row in s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
        ):
            out.setdefault(row.to_addr.split("@")[0], []).append(row)
    return out


def post(store, cohort, who, text, when):
    with clock_at(when), store.write() as s:
        posts.create_post(s, actor(who), s.merge(cohort), ANCHOR, text)


def test_one_digest_per_interval_and_none_when_nothing_happened(tmp_path, store, cohort, people):
    t0 = utcnow()
    mailer = Mailer(MailSettings(digest_idle_hours=72, digest_interval_hours=168),
                    str(tmp_path / "data"))  # fmt: skip
    with store.write() as s:
        s.execute(update(Member).where(Member.id == people["fay"].id).values(email=None))
        s.execute(update(Member).where(Member.id == people["ivo"].id).values(email_pref="none"))
        s.execute(update(Member).where(Member.id == people["sam"].id).values(email_pref="digest"))
    with clock_at(t0 + timedelta(hours=73)):
        assert queue_digests(store, mailer).queued == 0  # away, but nothing happened
    post(store, cohort, people["ben"], "Semicolons! cc @ana", t0 + timedelta(hours=1))
    with clock_at(t0 + timedelta(hours=2)):
        assert queue_digests(store, mailer).away == 0  # nobody away yet
    with clock_at(t0 + timedelta(hours=73)):
        report = queue_digests(store, mailer)
        assert (report.queued, report.empty) == (3, 1)  # ben wrote the only post
        assert queue_digests(store, mailer).queued == 0  # one per interval
    sent = digests(store)
    assert sorted(sent) == ["ana", "chi", "sam"]  # fay: no address; ivo: opted out
    ana = sent["ana"][0]
    assert ana.subject == "What you missed in Practical pandas, spring 2026"
    assert "Ben Okafor mentioned you" in ana.body_text and "1 new post" in ana.body_text
    assert "/mail/unsubscribe?t=" in ana.body_text and ana.dedupe_key.endswith(":1")
    assert "1 new post" in sent["chi"][0].body_text and "mentioned" not in sent["chi"][0].body_text
    with store.write() as s:  # ana comes back; chi stays away
        s.execute(update(Member).where(Member.id == people["ana"].id)
                  .values(last_seen_at=t0 + timedelta(hours=100)))  # fmt: skip
    post(store, cohort, people["ben"], "Anyone?", t0 + timedelta(hours=150))
    with clock_at(t0 + timedelta(hours=73 + 167)):
        assert queue_digests(store, mailer).queued == 0  # within the interval for everyone
    with clock_at(t0 + timedelta(hours=73 + 169)):
        assert queue_digests(store, mailer).queued == 3
    sent = digests(store)
    assert [len(sent[k]) for k in ("ana", "chi", "sam")] == [2, 2, 2]
    assert "1 new post" in sent["ana"][1].body_text  # only what came after her visit
    assert sent["ana"][1].dedupe_key.endswith(":2")


def test_two_digest_runs_at_once_queue_each_digest_once(tmp_path, store, cohort, people):
    t0 = utcnow()
    post(store, cohort, people["ben"], "Hello all", t0 + timedelta(hours=1))
    mailer = Mailer(MailSettings(), str(tmp_path / "data"))
    stores = [Store.open(store.url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run(one: Store) -> None:
        with clock_at(t0 + timedelta(hours=80)):
            barrier.wait()
            results.append(queue_digests(one, mailer).queued)

    threads = [threading.Thread(target=run, args=(one,)) for one in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for one in stores:
        one.close()
    assert sum(results) == 5 and sum(len(v) for v in digests(store).values()) == 5


def test_reviews_assigned_and_received_are_notified(store, cohort, people):
    learners = [people[n] for n in ("ana", "ben", "chi")]
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        subs = [NewSubmission(m.id, f"/snap/{m.username}") for m in learners]
        pairs = [(learners[(i + 1) % 3].id, i, "peer", f"p{i}") for i in range(3)]
        pairs += [(learners[(i + 2) % 3].id, i, "peer", f"q{i}") for i in range(3)]
        rnd = review_rounds.create_round(
            s, SYSTEM, c, assignment="project-1", criteria=[], settings={}, reviewers=2,
            seed=1, due_at=utcnow() + timedelta(days=3), folder="", submissions=subs,
            pairs=pairs,
        )  # fmt: skip
        s.flush()
        rid = rnd.id
    with store.read() as s:
        assigned = s.scalars(select(Notification).where(Notification.kind == "review_assigned"))
        by_member = {n.member_id: n.data for n in assigned}
    assert set(by_member) == {m.id for m in learners}
    assert all(d["count"] == 2 and d["assignment"] == "project-1" for d in by_member.values())
    with store.write() as s:
        rnd = s.get_one(ReviewRound, rid)
        sub_ids = [sub.id for sub in s.scalars(select(review_rounds.ReviewSubmission))]
        review_rounds.close_round(s, SYSTEM, rnd, {i: {"score": 1} for i in sub_ids})
    with store.read() as s:
        received = s.scalars(select(Notification).where(Notification.kind == "review_received"))
        assert sorted(n.member_id for n in received) == sorted(m.id for m in learners)
