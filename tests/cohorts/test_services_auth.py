"""Tokens and permissions: who may do what, decided in one place."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from nbcohort.cohorts.config import ROLES
from nbcohort.cohorts.models import Activity, ApiToken, Base, Cohort, Member, utcnow
from nbcohort.cohorts.services.auth import (
    PERMISSIONS,
    Actor,
    authenticate_token,
    may_grant_role,
    mint_token,
    require,
    revoke_tokens,
)
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Forbidden, NotFound, Unauthorized
from nbcohort.cohorts.services.members import add_member, set_active
from nbcohort.cohorts.services.roster import import_roster
from nbcohort.cohorts.store import Store, sqlite_path

SYSTEM = Actor.system()


def mint(store: Store, member: Member, by: Actor = SYSTEM, **kw: object) -> str:
    with store.write() as s:
        return mint_token(s, by, s.get(Member, member.id), **kw)


def auth(store: Store, token: str | None) -> Actor:
    with store.read() as s:
        return authenticate_token(s, token)


def count(store: Store, model: object) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# --- minting --------------------------------------------------------------------------------


def test_minted_token_is_stored_as_its_digest_only(store: Store, people: dict) -> None:
    token = mint(store, people["ana"], note="laptop")
    assert token.startswith("nbc_")
    assert len(token) >= 40
    with store.read() as s:
        row = s.scalars(select(ApiToken)).one()
        values = {c.key: getattr(row, c.key) for c in ApiToken.__table__.columns}
    assert values["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert values["prefix"] == token[:8]  # enough to recognise it in a list, useless alone
    assert values["note"] == "laptop"
    assert values["member_id"] == people["ana"].id
    assert values["revoked"] is False
    for key, value in values.items():
        assert token not in str(value), key


def test_plain_token_is_nowhere_in_the_database(store: Store, people: dict) -> None:
    """Not in any column of any table (the activity log included)."""
    token = mint(store, people["ana"], note="laptop")
    secret = token[8:]  # the part after the stored prefix
    with store.read() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                assert secret not in repr(tuple(row)), table.name


def test_plain_token_is_not_in_the_sqlite_files(sqlite_store: Store) -> None:
    with sqlite_store.write() as s:
        cohort = create_cohort(s, SYSTEM, "files", "Files")
        member = add_member(s, SYSTEM, cohort, name="Ana", email="ana@example.org")
    token = mint(sqlite_store, member)
    path = sqlite_path(sqlite_store.url)
    assert path is not None
    files = [Path(path), Path(path + "-wal")]
    blob = b"".join(f.read_bytes() for f in files if f.exists())
    assert hashlib.sha256(token.encode()).hexdigest().encode() in blob  # we did look
    assert token[8:].encode() not in blob


def test_each_token_is_new(store: Store, people: dict) -> None:
    tokens = {mint(store, people["ana"]) for _ in range(5)}
    assert len(tokens) == 5
    assert count(store, ApiToken) == 5
    for token in tokens:
        assert auth(store, token).member_id == people["ana"].id


def test_mint_is_logged_without_the_token(store: Store, people: dict) -> None:
    token = mint(store, people["ana"])
    with store.read() as s:
        entry = s.scalars(select(Activity).where(Activity.verb == "token.mint")).one()
        assert entry.object_type == "api_token"
        assert entry.data == {"member": people["ana"].id}
        assert token not in repr(entry.data)


@pytest.mark.parametrize("who", ["ana", "chi", "fay", "ivo", "sam"])
def test_no_member_mints_tokens(store: Store, people: dict, who: str) -> None:
    """A token is an identity: no member, staff included, may hold someone else's."""
    before = (count(store, ApiToken), count(store, Activity))
    with pytest.raises(Forbidden):
        mint(store, people["ben"], by=Actor.of(people[who]))
    with pytest.raises(Forbidden):
        mint(store, people[who], by=Actor.of(people[who]))  # not even for oneself
    assert (count(store, ApiToken), count(store, Activity)) == before


def test_only_the_system_actor_mints_in_any_cohort(
    store: Store, cohort: Cohort, people: dict
) -> None:
    ivo = Actor.of(people["ivo"])
    with pytest.raises(Forbidden):
        mint(store, people["ana"], by=ivo)
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "other", "Other")
        zed = add_member(s, SYSTEM, other, name="Zed", email="zed@example.org")
    with pytest.raises(NotFound):  # another cohort's member does not exist for an instructor
        mint(store, zed, by=ivo)
    assert count(store, ApiToken) == 0
    for member in (people["ana"], zed):  # the local administrator (the CLI) mints anywhere
        token = mint(store, member)
        assert auth(store, token).member_id == member.id


def test_no_token_for_an_inactive_member(store: Store, people: dict) -> None:
    with store.write() as s:
        set_active(s, SYSTEM, s.get(Member, people["ana"].id), False)
    with pytest.raises(Forbidden, match="not active"):
        mint(store, people["ana"])
    assert count(store, ApiToken) == 0


# --- authenticating -------------------------------------------------------------------------


def test_authenticate_returns_the_member_as_actor(store: Store, people: dict) -> None:
    for username in ("ana", "fay", "sam"):
        member = people[username]
        got = auth(store, mint(store, member))
        assert got == Actor(
            member.id, member.cohort_id, member.role, member.name, username,
            member.team, member.timezone,
        )  # fmt: skip
        assert not got.is_system


@pytest.mark.parametrize(
    "token", [None, "", "nbc_", "nbc_not-a-real-token", "x" * 200, "token nbc_abc", "💥"]
)
def test_unknown_token_is_unauthorized(store: Store, people: dict, token: str | None) -> None:
    mint(store, people["ana"])
    with pytest.raises(Unauthorized):
        auth(store, token)


def test_near_misses_of_a_real_token_are_unauthorized(store: Store, people: dict) -> None:
    token = mint(store, people["ana"])
    digest = hashlib.sha256(token.encode()).hexdigest()
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (token[:-1], token + "x", token.upper(), f" {token}", flipped, token[:8], digest):
        with pytest.raises(Unauthorized):
            auth(store, wrong)


def test_revoked_token_is_unauthorized(store: Store, people: dict) -> None:
    first, second = mint(store, people["ana"]), mint(store, people["ana"])
    other = mint(store, people["ben"])
    with store.write() as s:
        assert revoke_tokens(s, SYSTEM, s.get(Member, people["ana"].id)) == 2
    for token in (first, second):
        with pytest.raises(Unauthorized, match="revoked"):
            auth(store, token)
    assert auth(store, other).member_id == people["ben"].id  # others keep theirs
    with store.write() as s:
        assert revoke_tokens(s, SYSTEM, s.get(Member, people["ana"].id)) == 0
    fresh = mint(store, people["ana"])
    assert auth(store, fresh).member_id == people["ana"].id


@pytest.mark.parametrize("who", ["ana", "fay", "ivo"])
def test_members_cannot_revoke_tokens(store: Store, people: dict, who: str) -> None:
    token = mint(store, people["ben"])
    with pytest.raises(Forbidden), store.write() as s:
        revoke_tokens(s, Actor.of(people[who]), s.get(Member, people["ben"].id))
    assert auth(store, token).member_id == people["ben"].id


def test_expired_token_is_unauthorized(store: Store, people: dict) -> None:
    past = mint(store, people["ana"], expires_at=utcnow() - timedelta(seconds=1))
    future = mint(store, people["ana"], expires_at=utcnow() + timedelta(hours=1))
    with pytest.raises(Unauthorized, match="expired"):
        auth(store, past)
    assert auth(store, future).member_id == people["ana"].id


def test_token_expiry_must_be_aware(store: Store, people: dict) -> None:
    naive = utcnow().replace(tzinfo=None) + timedelta(hours=1)
    with pytest.raises(StatementError, match="naive"):
        mint(store, people["ana"], expires_at=naive)
    assert count(store, ApiToken) == 0


def test_deactivated_member_is_unauthorized(store: Store, people: dict) -> None:
    token = mint(store, people["ana"])
    other = mint(store, people["ben"])
    with store.write() as s:
        set_active(s, SYSTEM, s.get(Member, people["ana"].id), False)
    with pytest.raises(Unauthorized, match="invalid or revoked token"):
        auth(store, token)  # leaving revokes the member's tokens
    assert auth(store, other).member_id == people["ben"].id  # others keep theirs
    with store.write() as s:
        set_active(s, SYSTEM, s.get(Member, people["ana"].id), True)
    with pytest.raises(Unauthorized, match="invalid or revoked token"):
        auth(store, token)  # coming back does not revive the old token
    fresh = mint(store, people["ana"])
    assert auth(store, fresh).member_id == people["ana"].id


def test_roster_deactivation_revokes_tokens(store: Store, cohort: Cohort, people: dict) -> None:
    tokens = {who: mint(store, people[who]) for who in ("ana", "ben")}
    with store.write() as s:
        report = import_roster(s, SYSTEM, s.get(Cohort, cohort.id),
                               "name,email,team,role\nAna Souza,ana@example.org,red,learner\n",
                               deactivate_missing=True)  # fmt: skip
    assert report.deactivated == 2  # ben and chi
    assert auth(store, tokens["ana"]).member_id == people["ana"].id
    with pytest.raises(Unauthorized, match="invalid or revoked token"):
        auth(store, tokens["ben"])
    with store.write() as s:  # listed again: back in the cohort, but not with the old token
        back = "name,email,team,role\nBen Okafor,ben@example.org,blue,learner\n"
        import_roster(s, SYSTEM, s.get(Cohort, cohort.id), back)
    with pytest.raises(Unauthorized, match="invalid or revoked token"):
        auth(store, tokens["ben"])


def test_inactive_member_with_a_live_token_is_unauthorized(store: Store, people: dict) -> None:
    """Should a token outlive its member's deactivation, it still opens nothing."""
    token = mint(store, people["ana"])
    with store.write() as s:
        s.get(Member, people["ana"].id).active = False  # not through set_active: tokens stay
    with pytest.raises(Unauthorized, match="no longer active"):
        auth(store, token)


# --- the permission table -------------------------------------------------------------------

# Rows: actions. Columns: learner, champion, facilitator, instructor, alumni, sponsor.
EXPECTED = """
action          learner champion facilitator instructor alumni sponsor
cohort.read     y       y        y           y          y      y
member.list     y       y        y           y          y      y
thread.read     y       y        y           y          y      y
post.create     y       y        y           y          y      -
post.react      y       y        y           y          y      -
post.flag       y       y        y           y          y      -
post.moderate   -       -        y           y          -      -
roster.manage   -       -        y           y          -      -
token.mint      -       -        -           -          -      -
prompt.answer   y       y        y           y          y      -
prompt.manage   -       y        y           y          -      -
practice.apply  y       y        y           y          y      -
artifact.read   y       y        y           y          y      y
artifact.share  y       y        y           y          y      -
review.run      -       -        y           y          -      -
review.take     y       y        y           y          y      -
charter.publish -       -        y           y          -      -
charter.ack     y       y        y           y          y      -
event.signup    y       y        y           y          y      -
member.remove   -       -        -           y          -      -
pulse.answer    y       y        y           y          y      -
pulse.results   y       y        y           y          y      y
pulse.comments  -       -        y           y          -      y
badge.revoke    -       -        y           y          -      -
spotlight.edit  -       -        y           y          -      -
champion.suggest -      -        y           y          -      -
champion.appoint -      -        -           y          -      -
post.pin        -       y        y           y          -      -
post.welcome    -       y        y           y          -      -
routine.host    -       y        y           y          -      -
moderation.queue -      y        y           y          -      -
post.approve    -       y        y           y          -      -
appeal.decide   -       -        y           y          -      -
appeal.file     y       y        y           y          y      -
cohort.graduate -       -        -           y          -      -
topic.create    y       y        y           y          y      -
community.read  y       y        y           y          y      y
idea.mark       y       y        y           y          y      -
idea.endorse    y       y        y           y          y      -
idea.decide     -       -        y           y          -      -
pilot.update    y       y        y           y          y      -
nudge.read      -       -        y           y          -      y
post.reply      y       y        y           y          y      y
exchange.manage -       -        y           y          -      -
exchange.submit y       y        -           -          -      -
"""


def _matrix() -> dict[tuple[str, str], bool]:
    header, *rows = (line.split() for line in EXPECTED.strip().splitlines())
    roles = header[1:]
    return {
        (row[0], role): cell == "y"
        for row in rows
        for role, cell in zip(roles, row[1:], strict=True)
    }


MATRIX = _matrix()
CASES = sorted(MATRIX)


def test_matrix_covers_every_action_and_role() -> None:
    """A new action or role must be added to the expected table above."""
    assert {a for a, _ in MATRIX} == set(PERMISSIONS)
    assert {r for _, r in MATRIX} == set(ROLES)
    assert len(MATRIX) == len(PERMISSIONS) * len(ROLES)


@pytest.mark.parametrize(("action", "role"), CASES)
def test_require_follows_the_permission_table(action: str, role: str) -> None:
    member = Actor(member_id=7, cohort_id=1, role=role)
    allowed = MATRIX[(action, role)]
    assert member.can(action) is allowed
    if allowed:
        require(member, action, 1)
        require(member, action)
    else:
        with pytest.raises(Forbidden, match=action):
            require(member, action, 1)
        with pytest.raises(Forbidden):
            require(member, action)


@pytest.mark.parametrize(("action", "role"), CASES)
def test_another_cohort_is_not_found_whatever_the_role(action: str, role: str) -> None:
    with pytest.raises(NotFound):
        require(Actor(member_id=7, cohort_id=1, role=role), action, 2)


@pytest.mark.parametrize("action", sorted(PERMISSIONS))
def test_system_may_do_everything(action: str) -> None:
    assert SYSTEM.can(action)
    require(SYSTEM, action)
    require(SYSTEM, action, 12345)


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        require(SYSTEM, "post.obliterate")
    with pytest.raises(KeyError):
        require(Actor(1, 1, "instructor"), "post.obliterate", 1)


# --- granting roles ----------------------------------------------------------------------------

STAFF_ROLES = ("facilitator", "instructor")


@pytest.mark.parametrize("granter", sorted(ROLES))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_may_grant_role(granter: str, role: str) -> None:
    """Staff roles are granted or taken only by instructors (and the system actor)."""
    by = Actor(member_id=7, cohort_id=1, role=granter)
    for current in (None, "learner", "champion", "alumni", "sponsor"):
        assert may_grant_role(by, role, current) is (
            role not in STAFF_ROLES or granter == "instructor"
        )
        assert may_grant_role(SYSTEM, role, current)
    for current in STAFF_ROLES:  # taking a staff role away is an instructor's business too
        unchanged = role == current  # listing a role as it is grants nothing
        assert may_grant_role(by, role, current) is (unchanged or granter == "instructor")
        assert may_grant_role(SYSTEM, role, current)


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_facilitator_cannot_add_staff(
    store: Store, cohort: Cohort, people: dict, role: str
) -> None:
    fay, ivo = Actor.of(people["fay"]), Actor.of(people["ivo"])
    before = (count(store, Member), count(store, Activity))
    with pytest.raises(Forbidden, match=role), store.write() as s:
        add_member(s, fay, s.get(Cohort, cohort.id), name="Zed", email="zed@example.org",
                   role=role)  # fmt: skip
    assert (count(store, Member), count(store, Activity)) == before
    with store.write() as s:  # a learner, the facilitator may add; staff, an instructor may
        add_member(s, fay, s.get(Cohort, cohort.id), name="Yan", email="yan@example.org")
        add_member(s, ivo, s.get(Cohort, cohort.id), name="Zed", email="zed@example.org",
                   role=role)  # fmt: skip
    with store.read() as s:
        added = {
            m.email: m.role for m in s.scalars(select(Member).where(Member.id > people["sam"].id))
        }
    assert added == {"yan@example.org": "learner", "zed@example.org": role}


@pytest.mark.parametrize("role", ["admin", "", "system ", "Instructor"])
def test_unknown_role_may_do_nothing(role: str) -> None:
    stranger = Actor(member_id=7, cohort_id=1, role=role)
    for action in PERMISSIONS:
        with pytest.raises(Forbidden):
            require(stranger, action, 1)
