"""thread.version: a change counter the database keeps, so a thread page can be cached.

Triggers bump it whenever something a thread page shows changes: a post of the thread
(insert, edit, delete, hide), a reaction to one of its posts, or the public profile of one of
its authors. The database keeps it, not the services layer, so every writer counts (the
service, the CLI, another worker process, a bulk statement) and the bump commits or rolls
back with the change itself.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BUMP = "UPDATE thread SET version = version + 1 WHERE id = {}"
_POST_OF = "(SELECT thread_id FROM post WHERE id = {}.post_id)"
_PROFILE = ("username", "name", "role", "team", "timezone")

_SQLITE = {
    "thread_version_post_insert": (
        f"AFTER INSERT ON post BEGIN {_BUMP.format('NEW.thread_id')}; END"
    ),
    "thread_version_post_update": (
        "AFTER UPDATE ON post BEGIN "
        "UPDATE thread SET version = version + 1 WHERE id IN (OLD.thread_id, NEW.thread_id); END"
    ),
    "thread_version_post_delete": (
        f"AFTER DELETE ON post BEGIN {_BUMP.format('OLD.thread_id')}; END"
    ),
    "thread_version_reaction_insert": (
        f"AFTER INSERT ON reaction BEGIN {_BUMP.format(_POST_OF.format('NEW'))}; END"
    ),
    "thread_version_reaction_update": (
        f"AFTER UPDATE ON reaction BEGIN {_BUMP.format(_POST_OF.format('OLD'))}; "
        f"{_BUMP.format(_POST_OF.format('NEW'))}; END"
    ),
    "thread_version_reaction_delete": (
        f"AFTER DELETE ON reaction BEGIN {_BUMP.format(_POST_OF.format('OLD'))}; END"
    ),
    "thread_version_member_update": (
        f"AFTER UPDATE OF {', '.join(_PROFILE)} ON member "
        f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in _PROFILE)} BEGIN "
        "UPDATE thread SET version = version + 1 "
        "WHERE id IN (SELECT thread_id FROM post WHERE author_id = NEW.id); END"
    ),
}

_POSTGRES_FUNCTIONS = {
    "nbcohort_thread_version_post": """
        BEGIN
          IF TG_OP <> 'INSERT' THEN
            UPDATE thread SET version = version + 1 WHERE id = OLD.thread_id;
          END IF;
          IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.thread_id <> OLD.thread_id) THEN
            UPDATE thread SET version = version + 1 WHERE id = NEW.thread_id;
          END IF;
          RETURN NULL;
        END""",
    "nbcohort_thread_version_reaction": """
        BEGIN
          IF TG_OP <> 'INSERT' THEN
            UPDATE thread SET version = version + 1
            WHERE id = (SELECT thread_id FROM post WHERE id = OLD.post_id);
          END IF;
          IF TG_OP <> 'DELETE' THEN
            UPDATE thread SET version = version + 1
            WHERE id = (SELECT thread_id FROM post WHERE id = NEW.post_id);
          END IF;
          RETURN NULL;
        END""",
    "nbcohort_thread_version_member": """
        BEGIN
          UPDATE thread SET version = version + 1
          WHERE id IN (SELECT thread_id FROM post WHERE author_id = NEW.id);
          RETURN NULL;
        END""",
}

_POSTGRES_TRIGGERS = {
    "thread_version_post": (
        "AFTER INSERT OR UPDATE OR DELETE ON post FOR EACH ROW",
        "nbcohort_thread_version_post",
    ),
    "thread_version_reaction": (
        "AFTER INSERT OR UPDATE OR DELETE ON reaction FOR EACH ROW",
        "nbcohort_thread_version_reaction",
    ),
    "thread_version_member": (
        f"AFTER UPDATE OF {', '.join(_PROFILE)} ON member FOR EACH ROW WHEN ("
        + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _PROFILE)
        + ")",
        "nbcohort_thread_version_member",
    ),
}


def upgrade() -> None:
    op.add_column("thread", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        for name, body in _POSTGRES_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$")
        for name, (when, function) in _POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()")
    else:
        for name, body in _SQLITE.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (when, _function) in _POSTGRES_TRIGGERS.items():
            table = when.split(" ON ")[1].split()[0]
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for name in _POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in _SQLITE:
            op.execute(f"DROP TRIGGER {name}")
    # Not a batch (table copy): on SQLite that drops the old thread table, and with foreign
    # keys on, the drop would cascade to every post. Both databases drop a column in place.
    op.execute("ALTER TABLE thread DROP COLUMN version")
