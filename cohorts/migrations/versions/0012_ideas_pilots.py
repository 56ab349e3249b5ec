"""Ideas to pilots (#16 part 3): posts marked as ideas, members' endorsements (one each,
the unique key decides), pilots made from ideas (one per idea) and their status updates.
New tables only: nothing existing is rebuilt, so the triggers of 0004 and 0009 stay.

Like 0004's, triggers bump the version of the thread an idea's post is in when the idea is
marked, changes state or is endorsed: a cached page is read again, and a live discussion
widget shows the new count within seconds, whoever wrote it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)

_THREAD_OF_POST = "(SELECT thread_id FROM post WHERE id = {}.post_id)"
_THREAD_OF_IDEA = (
    "(SELECT p.thread_id FROM post p JOIN idea i ON i.post_id = p.id WHERE i.id = {}.idea_id)"
)
_BUMP = "UPDATE thread SET version = version + 1 WHERE id = {}"
_SQLITE = {
    "thread_version_idea_insert": f"AFTER INSERT ON idea BEGIN "
    f"{_BUMP.format(_THREAD_OF_POST.format('NEW'))}; END",
    "thread_version_idea_update": f"AFTER UPDATE ON idea BEGIN "
    f"{_BUMP.format(_THREAD_OF_POST.format('NEW'))}; END",
    "thread_version_endorsement_insert": f"AFTER INSERT ON idea_endorsement BEGIN "
    f"{_BUMP.format(_THREAD_OF_IDEA.format('NEW'))}; END",
    "thread_version_endorsement_delete": f"AFTER DELETE ON idea_endorsement BEGIN "
    f"{_BUMP.format(_THREAD_OF_IDEA.format('OLD'))}; END",
}
_POSTGRES_FUNCTIONS = {
    "nbcohort_thread_version_idea": f"""
        BEGIN
          {_BUMP.format(_THREAD_OF_POST.format("NEW"))};
          RETURN NULL;
        END""",
    "nbcohort_thread_version_endorsement": f"""
        BEGIN
          IF TG_OP = 'DELETE' THEN
            {_BUMP.format(_THREAD_OF_IDEA.format("OLD"))};
          ELSE
            {_BUMP.format(_THREAD_OF_IDEA.format("NEW"))};
          END IF;
          RETURN NULL;
        END""",
}
_POSTGRES_TRIGGERS = {
    "thread_version_idea": (
        "AFTER INSERT OR UPDATE ON idea FOR EACH ROW",
        "nbcohort_thread_version_idea",
    ),
    "thread_version_endorsement": (
        "AFTER INSERT OR DELETE ON idea_endorsement FOR EACH ROW",
        "nbcohort_thread_version_endorsement",
    ),
}


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, body in _POSTGRES_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$")
        for name, (when, function) in _POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()")
    else:
        for name, body in _SQLITE.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (when, _function) in _POSTGRES_TRIGGERS.items():
            op.execute(f"DROP TRIGGER {name} ON {when.split(' ON ')[1].split()[0]}")
        for name in _POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in _SQLITE:
            op.execute(f"DROP TRIGGER {name}")


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "idea",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("marked_by", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("escalated_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("decline_reason", sa.String(length=1000), nullable=False),
        _fk("idea", "cohort_id", "cohort"),
        _fk("idea", "post_id", "post"),
        _fk("idea", "marked_by", "member", "SET NULL"),
        _fk("idea", "decided_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea")),
        sa.UniqueConstraint("post_id", name=op.f("uq_idea_post_id")),
    )
    op.create_index(op.f("ix_idea_cohort_id"), "idea", ["cohort_id"])
    op.create_table(
        "idea_endorsement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        _fk("idea_endorsement", "idea_id", "idea"),
        _fk("idea_endorsement", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_endorsement")),
        sa.UniqueConstraint(
            "idea_id", "member_id", name=op.f("uq_idea_endorsement_idea_id_member_id")
        ),
    )
    op.create_table(
        "pilot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _fk("pilot", "cohort_id", "cohort"),
        _fk("pilot", "idea_id", "idea", "SET NULL"),
        _fk("pilot", "owner_id", "member", "SET NULL"),
        _fk("pilot", "created_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot")),
        sa.UniqueConstraint("idea_id", name=op.f("uq_pilot_idea_id")),
    )
    op.create_index(op.f("ix_pilot_cohort_id"), "pilot", ["cohort_id"])
    op.create_table(
        "pilot_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        _fk("pilot_update", "pilot_id", "pilot"),
        _fk("pilot_update", "author_id", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot_update")),
    )
    op.create_index(op.f("ix_pilot_update_pilot_id"), "pilot_update", ["pilot_id"])
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_index(op.f("ix_pilot_update_pilot_id"), table_name="pilot_update")
    op.drop_table("pilot_update")
    op.drop_index(op.f("ix_pilot_cohort_id"), table_name="pilot")
    op.drop_table("pilot")
    op.drop_table("idea_endorsement")
    op.drop_index(op.f("ix_idea_cohort_id"), table_name="idea")
    op.drop_table("idea")
