"""The community's member directory is opt-in: ``member.directory_opt_in`` (false for every
member, existing ones included: nobody is listed until they choose to be). One column;
going down drops it (on SQLite by rebuilding member, which drops 0004's trigger on it: it is
created again, as 0008 does).

Revision ID: 0017_directory_opt_in
Revises: 0016_review_packets
Create Date: 2026-12-07 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_directory_opt_in"
down_revision = "0016_review_packets"
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
        sa.Column("directory_opt_in", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("member", "directory_opt_in")
        return
    op.execute("DROP TRIGGER IF EXISTS thread_version_member_update")
    with op.batch_alter_table("member") as batch:  # SQLite drops a column by copying
        batch.drop_column("directory_opt_in")
    op.execute(_SQLITE_MEMBER_TRIGGER)
