"""Champions across teams: suggesting candidates from what they did for others, and
appointing one (instructors only, logged).

The suggestion rule (``suggest_champions``):

- a candidate is an active learner or alumni member who has not opted out
  (``Member.champion_opt_out``) and has at least one signal;
- signals, from the activity log: replies others marked "helpful", reviews their authors rated
  4 or 5, artifacts reused by someone else, practices they applied ("I applied this");
  the score is their sum;
- teams are covered first: the next pick always comes from a team with the fewest champions
  (present ones and picks so far) among teams that still have candidates, so no team gets a
  second champion while another team with candidates has none; among those teams, the best
  remaining candidate wins (score, then helpful replies, then reviews rated helpful, then
  username: ties are decided the same way every time). Members without a team form one
  group, "no team".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.badges import event_counts
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid

__all__ = ["SIGNALS", "Suggestion", "appoint_champion", "suggest_champions"]

# event kind (badge_file.BadgeEvent) -> how the explanation names it
SIGNALS = {
    "helpful_reply": "helpful replies",
    "review_rated_helpful": "reviews rated helpful",
    "artifact_reused": "artifacts reused by others",
    "practice_applied": "practices applied",
}
CANDIDATE_ROLES = ("learner", "alumni")
MAX_COUNT = 100


@dataclass(frozen=True)
class Suggestion:
    member_id: int
    username: str
    name: str
    team: str
    score: int
    signals: dict[str, int]
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "username": self.username,
            "name": self.name,
            "team": self.team,
            "score": self.score,
            "signals": self.signals,
            "why": self.why,
        }


def suggest_champions(
    session: Session, actor: Actor, cohort: Cohort, count: object = 12
) -> list[Suggestion]:
    """Up to ``count`` candidates, teams covered first (see the module's rule)."""
    require(actor, "champion.suggest", cohort.id)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise Invalid(f"count must be a whole number from 1 to {MAX_COUNT}", field="count")
    signals = {kind: event_counts(session, cohort.id, kind) for kind in SIGNALS}
    rows = session.execute(
        select(Member.id, Member.username, Member.name, Member.team, Member.role).where(
            Member.cohort_id == cohort.id,
            Member.active.is_(True),
            Member.champion_opt_out.is_(False),
        )
    ).all()
    covered: Counter[str] = Counter(
        session.scalars(
            select(Member.team).where(
                Member.cohort_id == cohort.id,
                Member.active.is_(True),
                Member.role == "champion",
            )
        )
    )
    by_team: dict[str, list[tuple[tuple[Any, ...], Any, dict[str, int]]]] = {}
    for row in rows:
        if row.role not in CANDIDATE_ROLES:
            continue
        mine = {kind: signals[kind].get(row.id, 0) for kind in SIGNALS}
        score = sum(mine.values())
        if score == 0:
            continue
        rank = (-score, -mine["helpful_reply"], -mine["review_rated_helpful"], row.username)
        by_team.setdefault(row.team, []).append((rank, row, mine))
    for queue in by_team.values():
        queue.sort(key=lambda c: c[0], reverse=True)  # best last: pop() takes it
    picks: list[Suggestion] = []
    while len(picks) < count and by_team:
        fewest = min(covered[t] for t in by_team)
        team = min((t for t in by_team if covered[t] == fewest), key=lambda t: by_team[t][-1][0])
        _, row, mine = by_team[team].pop()
        if not by_team[team]:
            del by_team[team]
        picks.append(_suggestion(row, mine, covered[team]))
        covered[team] += 1
    return picks


def _suggestion(row: Any, mine: dict[str, int], before: int) -> Suggestion:
    said = ", ".join(f"{n} {SIGNALS[k]}" for k, n in mine.items() if n) or "no signals"
    team = f"team {row.team}" if row.team else "no team"
    nth = {0: "first", 1: "second", 2: "third"}.get(before, f"{before + 1}th")
    why = f"{said}; {nth} champion for {team}"
    if before:
        why += " (every team with candidates already has one)"
    return Suggestion(row.id, row.username, row.name, row.team, sum(mine.values()), mine, why)


def appoint_champion(session: Session, actor: Actor, cohort: Cohort, member: Member) -> Member:
    """Grant ``member`` the champion role (instructors only; logged as ``champion.appoint``).
    Refused for a member who left, who opted out, or whose role is not a learner's or an
    alumnus's (staff and sponsors keep their roles)."""
    require(actor, "champion.appoint", cohort.id)
    if member.cohort_id != cohort.id:
        raise Invalid(f"{member.username!r} is not a member of {cohort.slug}", field="member")
    if not member.active:
        raise Forbidden(f"{member.username!r} has left the cohort", field="member")
    if member.role == "champion":
        raise Conflict(f"{member.username!r} is already a champion", field="member")
    if member.role not in CANDIDATE_ROLES:
        raise Invalid(
            f"{member.username!r} is {'an' if member.role[:1] in 'aeiou' else 'a'} {member.role}; "
            "only learners and alumni become champions",
            field="member",
        )
    if member.champion_opt_out:
        raise Forbidden(f"{member.username!r} asked not to be a champion", field="member")
    previous = member.role
    member.role, member.updated_at = "champion", utcnow()
    record(session, cohort.id, actor.member_id, "champion.appoint", member, previous=previous)
    return member
