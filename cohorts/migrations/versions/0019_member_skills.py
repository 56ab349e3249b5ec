"""Skills a member shows in the community's member directory: ``member.directory_skills``, a
JSON list of short tags (none for every member, existing ones included: NULL reads as no
skills). One column; going
down drops it (on SQLite by rebuilding member, which drops 0004's trigger on it: it is created
again, as 0017 does).

Revision ID: 0019_member_skills
Revises: 0018_login_throttle
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_member_skills"
down_revision = "0018_login_throttle"
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
    op.add_column("member", sa.Column("directory_skills", sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("member", "directory_skills")
        return
    op.execute("DROP TRIGGER IF EXISTS thread_version_member_update")
    with op.batch_alter_table("member") as batch:  # SQLite drops a column by copying
        batch.drop_column("directory_skills")
    op.execute(_SQLITE_MEMBER_TRIGGER)
