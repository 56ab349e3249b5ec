"""Roster import: a CSV of members checked in full, then applied as one unit of work.

Nothing is written unless every line of the file is valid, so a facilitator fixes the file and
imports it again instead of cleaning up half an import. Members are matched by email, or by
username on a line without one (a member without an email address gets everything in the
notebook only), which makes a re-import of the same (or an updated) file safe.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, may_grant_role, require, revoke_all_tokens
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.graduated_roles import arriving_role, lock_cohort
from nbcohort.cohorts.services.members import clean_member_fields

__all__ = ["REQUIRED_COLUMNS", "RosterError", "RosterReport", "import_roster"]

REQUIRED_COLUMNS = ("name", "email", "team", "role")
OPTIONAL_COLUMNS = ("timezone", "username")
MAX_PROBLEMS = 50
# Staff (and sponsors) leave a cohort by hand, never because a learner roster omits them.
_DEACTIVATABLE = frozenset({"learner", "champion", "alumni"})


class RosterError(Invalid):
    """A roster file that cannot be imported; ``problems`` lists each one, with its line."""

    def __init__(self, filename: str, problems: list[str], *, more: bool = False) -> None:
        count = f"{len(problems)}{'+' if more else ''}"
        lines = "\n".join(f"  - {p}" for p in problems)
        tail = f"\n  (stopped after the first {MAX_PROBLEMS} problems)" if more else ""
        super().__init__(
            f"{filename} was not imported, nothing was changed ({count} "
            f"problem{'s' if len(problems) != 1 or more else ''}):\n{lines}{tail}",
            field="roster",
        )
        self.filename = filename
        self.problems = problems


@dataclass
class RosterReport:
    """What an import did, member by member."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deactivated} deactivated"
        )


@dataclass
class _Row:
    line: int
    fields: dict[str, str]
    given: frozenset[str]  # optional columns with a value on this line


class _Problems:
    """Collects problems up to MAX_PROBLEMS, then stops the check; reports them by line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.items: list[tuple[int, str]] = []
        self.more = False

    def add(self, line: int | None, text: str, field: str | None = None) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.more = True
            return
        where = self.filename + (f" line {line}" if line is not None else "")
        where += f", field '{field}'" if field else ""
        self.items.append((line or 0, f"{where}: {text}"))

    def fail(self, line: int | None, text: str) -> NoReturn:
        """Stop at a problem that makes the rest of the file unreadable."""
        self.add(line, text)
        raise self.error()

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_PROBLEMS

    def error(self) -> RosterError:
        ordered = [text for _line, text in sorted(self.items, key=lambda item: item[0])]
        return RosterError(self.filename, ordered, more=self.more)

    def raise_if_any(self) -> None:
        if self.items:
            raise self.error()


def _column_key(header: str) -> str:
    """``" Time Zone"``, ``time_zone`` and ``TIMEZONE`` all name the same column."""
    return re.sub(r"[\s_-]+", "", header).lower()


def _decode(source: str | Path | bytes, problems: _Problems) -> str:
    if isinstance(source, str):
        return source.removeprefix("\ufeff")
    data = source.read_bytes() if isinstance(source, Path) else bytes(source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.fail(
            data[: exc.start].count(b"\n") + 1,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded); "
            "save it as 'CSV UTF-8' and import it again",
        )


def _read_rows(text: str, problems: _Problems) -> list[_Row]:
    """Parse and check the file's shape; every field is still a raw string."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        problems.fail(1, f"cannot read the header: {exc}")
    if not header or not any(h.strip() for h in header):
        problems.fail(None, "has no members (the file is empty)")
    keys = [_column_key(h) for h in header]
    allowed = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    missing = [c for c in REQUIRED_COLUMNS if c not in keys]
    unknown = [
        h.strip() or f"(column {i + 1} has no name)"
        for i, (h, k) in enumerate(zip(header, keys, strict=True))
        if k not in allowed
    ]
    twice = sorted({k for k in keys if k in allowed and keys.count(k) > 1})
    if missing:
        problems.add(1, f"missing required column(s): {', '.join(missing)}")
    if unknown:
        problems.add(
            1,
            f"unknown column(s): {', '.join(repr(u) for u in unknown)} "
            f"(allowed: {', '.join(allowed)})",
        )
    if twice:
        problems.add(1, f"column(s) given twice: {', '.join(twice)}")
    problems.raise_if_any()

    rows: list[_Row] = []
    last = reader.line_num
    try:
        for values in reader:
            start, last = last + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank line, or a spreadsheet's row of empty cells
            if len(values) != len(keys):
                problems.add(
                    start,
                    f"expected {len(keys)} fields, found {len(values)} "
                    "(a value holding a comma must be in double quotes)",
                )
            else:
                fields = dict(zip(keys, values, strict=True))
                given = frozenset(c for c in OPTIONAL_COLUMNS if fields.get(c, "").strip())
                rows.append(_Row(start, fields, given))
            if problems.full:
                problems.more = True
                break
    except csv.Error as exc:
        problems.fail(last + 1, f"cannot read this line: {exc}")
    if not rows and not problems.items:
        problems.fail(None, "has no members (only a header line)")
    return rows  # ragged lines are reported with the fields of the others


def _clean_rows(
    rows: list[_Row], members: list[Member], problems: _Problems
) -> list[tuple[_Row, dict[str, Any], Member | None]]:
    """Validate each row's fields, find the member it names (by email when the line gives
    one, else by username), and check that emails and usernames stay unique."""
    by_email = {m.email: m for m in members if m.email}
    by_username = {m.username: m for m in members}
    email_line: dict[str, int] = {}
    username_line: dict[str, int] = {}
    out: list[tuple[_Row, dict[str, Any], Member | None]] = []
    for row in rows:
        if problems.full:
            problems.more = True
            break
        try:
            clean = clean_member_fields(row.fields)
        except Invalid as exc:
            problems.add(row.line, exc.message, exc.field)
            continue
        email = clean["email"]
        if email is not None and email in email_line:
            problems.add(row.line, f"{email!r} is also on line {email_line[email]}", "email")
            continue
        if email is not None:
            email_line[email] = row.line
            current = by_email.get(email)
            if current is None and "username" in row.given:
                # A member known only by username who now has an address.
                named = by_username.get(clean["username"])
                current = named if named is not None and named.email is None else None
        else:
            current = by_username.get(clean["username"])
        # An existing member keeps their username unless the file gives one.
        if current is not None and "username" not in row.given:
            username = clean["username"] = current.username
        else:
            username = clean["username"]
        owner = by_username.get(username)
        if owner is not None and owner is not current:
            hint = "" if "username" in row.given else " (give this line a username)"
            whose = owner.email or "a member without an email address"
            problems.add(
                row.line,
                f"username {username!r} already belongs to {whose} in this cohort{hint}",
                "username",
            )
        elif username in username_line:
            problems.add(
                row.line,
                f"username {username!r} is also on line {username_line[username]}",
                "username",
            )
        else:
            username_line[username] = row.line
            out.append((row, clean, current))
    return out


def import_roster(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    source: str | Path | bytes,
    *,
    filename: str = "roster.csv",
    deactivate_missing: bool = False,
) -> RosterReport:
    """Add or update the cohort's members from a CSV roster; all of it, or nothing.

    ``source`` is a file (``Path``), its bytes (UTF-8, a BOM is fine), or its decoded text.
    Columns: name, email, team, role, and optionally timezone and username, in any order and
    case. The email may be empty on a line that gives a username. A member is matched by
    email, else by username; timezone, username and email change only where the file gives
    them. With ``deactivate_missing``, active learners, champions and alumni absent from the
    file are deactivated (staff and sponsors never are). Raises RosterError listing every
    problem, by line and field, before anything is written.
    """
    require(actor, "roster.manage", cohort.id)
    current = lock_cohort(session, cohort.id)  # graduated or not, until this commits
    if isinstance(source, Path) and filename == "roster.csv":
        filename = source.name
    problems = _Problems(filename)
    rows = _read_rows(_decode(source, problems), problems)
    existing = list(session.scalars(select(Member).where(Member.cohort_id == cohort.id)))
    cleaned = _clean_rows(rows, existing, problems)
    problems.raise_if_any()
    for _row, clean, _current in cleaned:  # after graduation learners arrive as alumni
        clean["role"] = arriving_role(current, clean["role"])
    refused = [
        str(row.line)
        for row, clean, current in cleaned
        if not may_grant_role(actor, clean["role"], getattr(current, "role", None))
    ]
    if refused:
        raise Forbidden(
            f"{filename}: only an instructor can grant or change the facilitator "
            f"and instructor roles (line {', '.join(refused[:20])})"
        )

    report = RosterReport()
    now = utcnow()
    new: list[Member] = []
    changes: list[tuple[Member, list[str], bool]] = []
    for row, clean, member in cleaned:
        if member is None:
            new.append(
                Member(cohort_id=cohort.id, active=True, joined_at=now, updated_at=now, **clean)
            )
            continue
        wanted: dict[str, Any] = {k: clean[k] for k in ("name", "team", "role")}
        wanted.update({k: clean[k] for k in row.given})
        if clean["email"] is not None:  # a line without an address leaves the member's own
            wanted["email"] = clean["email"]
        changed = [k for k, v in wanted.items() if getattr(member, k) != v]
        reactivated = not member.active
        if not changed and not reactivated:
            report.unchanged += 1
            continue
        for key in changed:
            setattr(member, key, wanted[key])
        member.active = True
        member.updated_at = now
        changes.append((member, changed, reactivated))
        report.updated += 1

    session.add_all(new)
    session.flush()  # one flush gives every new member its id
    who = actor.member_id
    for member in new:
        record(session, cohort.id, who, "member.add", member, role=member.role, roster=filename)
    report.added = len(new)
    for member, changed, reactivated in changes:
        if changed:
            record(
                session, cohort.id, who, "member.update", member, fields=changed, roster=filename
            )
        if reactivated:
            record(session, cohort.id, who, "member.reactivate", member, roster=filename)

    if deactivate_missing:
        listed = {id(current) for _row, _clean, current in cleaned if current is not None}
        for member in existing:
            if member.active and member.role in _DEACTIVATABLE and id(member) not in listed:
                member.active = False
                member.updated_at = now
                revoke_all_tokens(session, member)
                record(session, cohort.id, who, "member.deactivate", member, roster=filename)
                report.deactivated += 1
    session.flush()
    return report
