"""Thirty days of a 40-member cohort on a fake clock, through the real services and the real
tick every thirty simulated minutes: members post, reply, react, answer prompts, acknowledge the
charter and share (some a lot, some never; five join late); at random two ticks overlap, one
tick is SIGKILLed halfway through a transaction, and a few ticks are the real CLI command.

Then: every weekday prompt published once, four weekly highlights, one clinic, every routine
once, each onboarding step notified at most once per member, nothing sent to a member after
they became a contributor, and late joiners onboarded on their own clock. The tick queues the
rhythm's email and a real SMTP server (aiosmtpd) receives what is sent each evening: each
onboarding email at most once per member, none after they converted, none to members who
opted out or have no address, the routines and highlights to those whose setting wants them."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from traitlets.config import Config

from nbcohort.cohorts.config import MailSettings
from nbcohort.cohorts.mail import Mailer, make_transport, send_due
from nbcohort.cohorts.models import (
    Activity,
    Artifact,
    CadenceItem,
    CharterVersion,
    Cohort,
    Event,
    Member,
    Notification,
    OnboardingStep,
    OutboxMessage,
    Post,
    Prompt,
    Thread,
    clock_at,
)
from nbcohort.cohorts.services import artifacts, charter, posts, prompts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import run_tick
from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM
from tests.helpers.processes import REPO, isolated_env
from tests.helpers.rhythm import apply_text, cohort_toml
from tests.helpers.smtp import smtp_server

pytestmark = pytest.mark.slow

START = datetime(2027, 3, 1, tzinfo=UTC)  # a Monday; Berlin goes to summer time on the 28th
END = START + timedelta(days=30)
STEP = timedelta(minutes=30)  # the tick catches up on whatever is due, as a cron every 30 min would
COURSE = {f"day-{n}": f"Course question {n}: what did you try?" for n in range(1, 16)}
ANCHORS = ["module-1/first-look", "module-1/filtering", "topic/general", "welcome/introductions"]
KILL_AT = datetime(2027, 3, 9, 9, 0, tzinfo=UTC)  # Tuesday's routine (10:00 Berlin) is due
CLI_AT = {datetime(2027, 3, 3, 7, 30, tzinfo=UTC), datetime(2027, 3, 12, 15, 0, tzinfo=UTC),
          datetime(2027, 3, 29, 6, 30, tzinfo=UTC)}  # fmt: skip


class Cohort40:
    """The members and what they do on a day (through the services layer, on the fake clock)."""

    def __init__(self, store: Store, cohort_id: int, rng: random.Random) -> None:
        self.store, self.cohort_id, self.rng = store, cohort_id, rng
        self.members: dict[str, Member] = {}
        self.kind: dict[str, str] = {}

    def join(self, username: str, kind: str, role: str = "learner") -> None:
        with self.store.write() as s:
            cohort = s.get_one(Cohort, self.cohort_id)
            self.members[username] = add_member(
                s, SYSTEM, cohort, name=f"{username.title()} Sim", email=f"{username}@sim.org",
                role=role, username=username, timezone=self.rng.choice(
                    ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
            )  # fmt: skip
        self.kind[username] = kind

    def act(self, at: datetime) -> None:
        """One round of the day's activity at ``at``."""
        with clock_at(at), self.store.write() as s:
            cohort = s.get_one(Cohort, self.cohort_id)
            recent = list(s.scalars(select(Post.id).join(Thread).where(
                Thread.kind != "prompt").order_by(Post.id.desc()).limit(30)))  # fmt: skip
            for username, member in self.members.items():
                kind, actor = self.kind[username], Actor.of(member)
                chance = {"active": 0.6, "reactive": 0.35, "lurker": 0.03}.get(kind, 0)
                if kind == "staff" or self.rng.random() > chance:
                    continue
                # A prompt not open yet, a charter not published: a member's luck.
                with suppress(ServiceError), s.begin_nested():
                    self._one_action(s, cohort, actor, kind, recent)

    def _one_action(self, s, cohort, actor, kind, recent) -> None:
        roll = self.rng.random()
        if roll < 0.15:
            version = s.scalar(select(func.max(CharterVersion.version)))
            if version:
                charter.ack_charter(s, actor, cohort, version)
        elif roll < 0.35:
            key = prompts.current_prompt_key(s, cohort)
            if key:
                prompts.answer_prompt(s, actor, cohort, key, "My answer, briefly.")
        elif roll < 0.6 and recent:
            posts.react(s, actor, self.rng.choice(recent), "helpful")
        elif roll < 0.75 and recent and kind != "lurker":
            parent = self.rng.choice(recent)
            anchor = self._anchor_of(s, parent)
            posts.create_post(s, actor, cohort, anchor, "Good point, thanks!", parent_id=parent)
        elif roll < 0.95 and kind != "lurker":
            posts.create_post(s, actor, cohort, self.rng.choice(ANCHORS), "A question or a tip.")
        elif kind == "active":
            artifacts.share_artifact(s, actor, cohort, filename="clean.py", content=b"x = 1\n",
                                     title="My cleaning steps")  # fmt: skip

    @staticmethod
    def _anchor_of(s, post_id: int) -> str:
        return s.scalar(select(Thread.anchor).join(Post).where(Post.id == post_id))


OPTED_OUT, NO_ADDRESS, DIGEST_ONLY = ("m05", "m09"), "m13", "m17"


def tick_config(tmp_path) -> Config:
    """The ticks' config: the data dir where the mail step's signing key lives."""
    config = Config()
    config.NbCohort.data_dir = str(tmp_path / "data")
    return config


def evening_send(store: Store, mailer: Mailer, at: datetime) -> None:
    """``nbcohort mail send``'s sending, on the fake clock, until the outbox is empty."""
    with clock_at(at):
        while send_due(store, mailer, make_transport(mailer.settings, mailer.data_dir)).sent:
            pass


def overlapping_ticks(url: str, at: datetime, config: Config | None = None) -> None:
    """Two ticks at once, each on its own store (connections), as two cron runs would be."""
    errors: list[BaseException] = []

    def one() -> None:
        other = Store.open(url)
        try:
            with clock_at(at):
                for report in run_tick(other, None, now=at, config=config):
                    errors.extend(RuntimeError(e) for e in report.errors)
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []


def killed_halfway(url: str, at: datetime) -> None:
    """A tick process SIGKILLed inside its transaction while another tick waits for it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.tick_killer", url, at.isoformat()],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("inside published"), (line, proc.stderr.read() if proc.stderr else "")
    waiter = threading.Thread(target=overlapping_ticks, args=(url, at))
    waiter.start()  # blocks on the killed tick's lock (SQLite) or row (PostgreSQL)
    waiter.join(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(20)
    waiter.join(120)
    assert not waiter.is_alive()


def cli_tick(url: str, at: datetime, tmp_path) -> None:
    env = isolated_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "nbcohort.cohorts.cli", "cadence", "tick", "--all",
         f"--now={at.isoformat()}", f"--db-url={url}", f"--data-dir={tmp_path / 'data'}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_thirty_days_of_a_forty_member_cohort(store, tmp_path):
    with smtp_server() as (inbox, port):
        _thirty_days(store, tmp_path, port)
        _check_mail(store, inbox)


def _thirty_days(store: Store, tmp_path, port: int) -> None:
    rng = random.Random(20270301)
    config = tick_config(tmp_path)
    mailer = Mailer(
        MailSettings(transport="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False),
        str(tmp_path / "data"),
    )
    text = cohort_toml()
    cohort, _ = apply_text(store, text, START - timedelta(days=3), COURSE)
    sim = Cohort40(store, cohort.id, rng)
    with clock_at(START - timedelta(days=3)):
        sim.join("fay", "staff", "facilitator")
        sim.join("chi", "active", "champion")
        for n in range(34):
            sim.join(f"m{n:02d}", ["active", "reactive", "reactive", "lurker"][n % 4])
    with store.write() as s:  # each member's own email setting
        s.execute(update(Member).where(Member.username.in_(OPTED_OUT)).values(email_pref="none"))
        s.execute(update(Member).where(Member.username == NO_ADDRESS).values(email=None))
        s.execute(update(Member).where(Member.username == DIGEST_ONLY).values(email_pref="digest"))
    late = {START + timedelta(days=d, hours=h): f"late{d}" for d, h in
            [(8, 13.3), (9, 2), (10, 17.5), (11, 9), (12, 23.9)]}  # fmt: skip
    with clock_at(START - timedelta(days=2)), store.write() as s:
        charter.publish_charter(s, SYSTEM, s.get_one(Cohort, cohort.id), "# Charter\n\nBe kind.\n")
    at, n, killed = START, 0, False
    while at < END:
        for joined, username in list(late.items()):
            if joined <= at:
                with clock_at(joined):
                    sim.join(username, "reactive")
                del late[joined]
        if at.minute == 0 and at.hour in (9, 14, 19):
            sim.act(at)
        if at in CLI_AT:
            cli_tick(store.url, at, tmp_path)
        elif at == KILL_AT:
            killed_halfway(store.url, at)
            killed = True
        elif rng.random() < 0.03:
            overlapping_ticks(store.url, at, config)
        else:
            with clock_at(at):
                [report] = run_tick(store, None, now=at, config=config)
                assert report.errors == [], report.errors
        if at.hour == 21 and at.minute == 0:
            evening_send(store, mailer, at)
        at += STEP
        n += 1
    assert killed and n == 30 * 48 and len(sim.members) == 41

    with store.read() as s:
        items = list(s.scalars(select(CadenceItem).where(CadenceItem.due_at < END)))
        logged = Counter(s.scalars(select(Activity.data["key"].as_string()).where(
            Activity.verb.in_(["cadence.published", "cadence.missed"]))))  # fmt: skip
        by_kind = Counter(i.kind for i in items if i.state == "published")
        opened = s.scalars(select(Prompt.key).where(Prompt.opens_at < END)).all()
        clinic = s.scalars(select(Event).where(Event.kind == "clinic", Event.starts_at < END)).all()
        clinic_posts = s.scalars(select(Post.id).join(Thread).where(
            Thread.anchor.like("topic/clinic-%"), Post.parent_id.is_(None))).all()  # fmt: skip
        cadence_posts = Counter(s.scalars(select(Post.request_key).where(
            Post.request_key.like("cadence-%"))))  # fmt: skip
        highlights = s.scalars(select(Post.id).join(Thread).where(
            Thread.anchor == "topic/highlights", Post.parent_id.is_(None))).all()  # fmt: skip
        notes = s.execute(select(Notification.member_id, Notification.data,
                                 Notification.created_at).where(
            Notification.kind == "onboarding")).all()  # fmt: skip
        steps = s.execute(select(OnboardingStep.member_id, OnboardingStep.state)).all()
        members = {m.id: m for m in s.scalars(select(Member))}
        posts_by = s.execute(select(Post.author_id, Post.created_at).join(Thread).where(
            Thread.kind != "prompt").order_by(Post.created_at, Post.id)).all()  # fmt: skip
        shared = s.execute(select(Artifact.author_id, Artifact.created_at)).all()

    weekdays = [
        START + timedelta(days=d) for d in range(30) if (START + timedelta(days=d)).weekday() < 5
    ]
    assert by_kind["prompt"] == len(weekdays) == 22  # every weekday prompt, once
    assert len(opened) == 22  # 15 of the course's, then 7 of the kit's community prompts
    assert by_kind["highlights"] == 4 and len(highlights) == 4
    assert by_kind["clinic"] == 1 and len(clinic) == 1 and clinic[0].anchor is not None
    assert len(clinic_posts) == 1
    assert by_kind["routine"] == 9  # five Tuesdays, four Fridays
    assert all(i.state == "published" for i in items)  # nothing missed, nothing left
    assert set(logged.values()) == {1} and len(logged) == len(items)
    assert set(cadence_posts.values()) == {1} and len(cadence_posts) == 9 + 4 + 1

    per_step = Counter((member_id, data["step"]) for member_id, data, _ in notes)
    assert per_step and max(per_step.values()) == 1  # each step at most once per member
    converted: dict[int, datetime] = {}
    counts: Counter[int] = Counter()
    for author, when in posts_by:
        counts[author] += 1
        if counts[author] == 3:
            converted.setdefault(author, when)
    for author, when in shared:
        converted[author] = min(when, converted.get(author, when))
    learners = {i for i, m in members.items() if m.role in ("learner", "champion")}
    assert 5 <= len(converted.keys() & learners) < len(learners)  # some converted, not all
    for member_id, _data, created in notes:
        if member_id in converted:
            assert created < converted[member_id]  # nothing after they became a contributor
    stopped = {member_id for member_id, state in steps if state == "stopped"}
    assert stopped and stopped <= set(converted)
    lurkers = [i for i, m in members.items() if m.username in ("m03", "m07", "m11")]
    assert all(per_step[(i, "check-in")] == 1 for i in lurkers if i not in converted)
    for username in ("late8", "late12"):
        member = next(m for m in members.values() if m.username == username)
        got = sorted(created for i, _, created in notes if i == member.id)
        assert got and got[0] - member.joined_at < STEP  # day 0 at once, on their own clock
    staff = {i for i, m in members.items() if m.role == "facilitator"}
    assert not any(member_id in staff for member_id, _ in per_step)


def _check_mail(store: Store, inbox) -> None:
    with store.read() as s:
        members = {m.id: m for m in s.scalars(select(Member))}
        rows = s.execute(select(OutboxMessage.member_id, OutboxMessage.kind,
                                OutboxMessage.dedupe_key, OutboxMessage.state)).all()  # fmt: skip
        notes = dict(s.execute(select(Notification.id, Notification.data).where(
            Notification.kind == "onboarding")).all())  # fmt: skip
        stopped = set(s.execute(select(OnboardingStep.member_id, OnboardingStep.step)
                                .where(OnboardingStep.state == "stopped")).all())  # fmt: skip
    assert inbox.messages and set(inbox.ids().values()) == {1}  # nothing sent twice
    by_name = {m.username: m for m in members.values()}
    to = Counter(str(m["To"]) for m in inbox.messages)
    for username in (*OPTED_OUT, NO_ADDRESS):
        assert not any(by_name[username].email and addr == by_name[username].email for addr in to)
        assert not [r for r in rows if r.member_id == by_name[username].id]
    sent = [r for r in rows if r.state == "sent"]
    assert len(sent) == len(inbox.messages) and {r.state for r in rows} == {"sent"}
    onboarding = Counter(
        (r.member_id, notes[int(r.dedupe_key.split(":")[1])]["step"])
        for r in sent if r.kind == "onboarding"
    )  # fmt: skip
    assert onboarding and max(onboarding.values()) == 1  # each step at most once per member
    wanted = {i for i, m in members.items() if m.email and m.email_pref == "all"}
    assert {m for m, _ in onboarding} <= wanted
    assert stopped and not stopped & set(onboarding)  # none once they became contributors
    kinds = Counter((r.member_id, r.kind) for r in sent)
    fay, digest_only = by_name["fay"].id, by_name[DIGEST_ONLY].id
    assert kinds[(fay, "routine")] == 9 and kinds[(fay, "highlights")] == 4
    assert kinds[(digest_only, "highlights")] == 4
    assert kinds[(digest_only, "routine")] == kinds[(digest_only, "onboarding")] == 0
