"""A member's calendar feed link can be replaced: ``member.calendar_link_version``, signed into
the link (0 for every member, existing ones included: links already given out keep working
until their member asks for a new one). One column; going down drops it (on SQLite by
rebuilding member, which drops 0004's trigger on it: it is created again, as 0019 does).

Revision ID: 0023_calendar_link_version
Revises: 0022_throttle_known
Create Date: 2026-12-07 19:45:00
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0023_calendar_link_version"
down_revision = "0022_throttle_known"
branch_labels = None
depends_on = None

_PROFILE = ("username", "name", "role", "team", "timezone")
# 0004's trigger on member, as 0008 last created it.
_SQLITE_MEMBER_TRIGGER = (
    "CREATE TRIGGER thread_version_member_update "
    f"AFTER UPDATE OF {', '.join(_PROFILE)} ON member "
    f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in _PROFILE)} BEGIN "
    "UPDATE thread SET version = version + 1 "
    "WHERE id IN (SELECT thread_id FROM post WHERE author_id = NEW.id); END"
)


def upgrade() -> None:
    op.add_column(
        "member",
        sa.Column("calendar_link_version", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    renewed = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM member WHERE calendar_link_version > 0")
    )
    if renewed:  # their replaced links, signed over the member alone, would work again
        logging.getLogger("alembic.runtime.migration").warning(
            "%d member(s) replaced their calendar link; below 0023 the links they replaced "
            "work again and their new ones stop: to end every old link, delete the signing "
            "key (NbCohort.signing_key_file; unsubscribe links in mail already sent "
            "stop working too)",
            renewed,
        )
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("member", "calendar_link_version")
        return
    op.execute("DROP TRIGGER IF EXISTS thread_version_member_update")
    with op.batch_alter_table("member") as batch:  # SQLite drops a column by copying
        batch.drop_column("calendar_link_version")
    op.execute(_SQLITE_MEMBER_TRIGGER)
