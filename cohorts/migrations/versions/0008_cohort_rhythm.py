"""The cohort's rhythm: charter versions and acknowledgements, the cadence's plan, onboarding
steps, clinic sign-ups, the email outbox; events that name what made them; notifications that
point at something other than a post; members' email preferences and last visit; and members
without an email address (they get everything in the notebook only).

``member.email`` becomes nullable. SQLite cannot drop NOT NULL in place, so the member table
is rebuilt (Alembic's batch mode, inside ``migration_connection``: foreign keys off, legacy
ALTER); the rebuild drops 0004's trigger on member, which is created again here. PostgreSQL
alters the column in place and keeps its trigger.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
_PROFILE = ("username", "name", "role", "team", "timezone")
# 0004's trigger on member, as 0004 created it (a batch rebuild of member drops it).
_SQLITE_MEMBER_TRIGGER = (
    "CREATE TRIGGER thread_version_member_update "
    f"AFTER UPDATE OF {', '.join(_PROFILE)} ON member "
    f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in _PROFILE)} BEGIN "
    "UPDATE thread SET version = version + 1 "
    "WHERE id IN (SELECT thread_id FROM post WHERE author_id = NEW.id); END"
)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def _set_email_nullable(nullable: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS thread_version_member_update")
        with op.batch_alter_table("member") as batch:
            batch.alter_column("email", existing_type=sa.String(length=254), nullable=nullable)
        op.execute(_SQLITE_MEMBER_TRIGGER)
    else:
        op.alter_column("member", "email", existing_type=sa.String(length=254), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "charter_version",
        _id(),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        _fk("charter_version", "cohort_id", "cohort"),
        _fk("charter_version", "published_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_version")),
        sa.UniqueConstraint(
            "cohort_id", "version", name=op.f("uq_charter_version_cohort_id_version")
        ),
    )
    op.create_table(
        "charter_ack",
        _id(),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("acked_at", UTC_DATETIME, nullable=False),
        _fk("charter_ack", "cohort_id", "cohort"),
        _fk("charter_ack", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_ack")),
        sa.UniqueConstraint("member_id", "version", name=op.f("uq_charter_ack_member_id_version")),
    )
    op.create_table(
        "cadence_item",
        _id(),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=True),
        _fk("cadence_item", "cohort_id", "cohort"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cadence_item")),
        sa.UniqueConstraint("cohort_id", "key", name=op.f("uq_cadence_item_cohort_id_key")),
    )
    op.create_index("ix_cadence_item_state_due_at", "cadence_item", ["state", "due_at"])
    op.create_table(
        "onboarding_step",
        _id(),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        _fk("onboarding_step", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_step")),
        sa.UniqueConstraint("member_id", "step", name=op.f("uq_onboarding_step_member_id_step")),
    )
    op.create_table(
        "event_signup",
        _id(),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        _fk("event_signup", "event_id", "event"),
        _fk("event_signup", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_signup")),
        sa.UniqueConstraint(
            "event_id", "member_id", name=op.f("uq_event_signup_event_id_member_id")
        ),
    )
    op.create_table(
        "outbox",
        _id(),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("to_addr", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        _fk("outbox", "cohort_id", "cohort"),
        _fk("outbox", "member_id", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.add_column("event", sa.Column("key", sa.String(length=200), nullable=True))
    op.add_column("event", sa.Column("anchor", sa.String(length=200), nullable=True))
    op.create_index("uq_event_cohort_id_key", "event", ["cohort_id", "key"], unique=True)
    op.add_column(
        "member",
        sa.Column("email_pref", sa.String(length=8), nullable=False, server_default="all"),
    )
    op.add_column("member", sa.Column("last_seen_at", UTC_DATETIME, nullable=True))
    op.add_column("notification", sa.Column("data", sa.JSON(), nullable=True))
    _set_email_nullable(True)


def downgrade() -> None:
    # A member without an email cannot go back to a NOT NULL column: refuse rather than invent.
    missing = op.get_bind().execute(sa.text("SELECT count(*) FROM member WHERE email IS NULL"))
    if missing.scalar():
        raise RuntimeError("members without an email address exist; give them one first")
    _set_email_nullable(False)
    op.drop_column("notification", "data")
    op.drop_column("member", "last_seen_at")
    op.drop_column("member", "email_pref")
    op.drop_index("uq_event_cohort_id_key", table_name="event")
    op.drop_column("event", "anchor")
    op.drop_column("event", "key")
    for table in ("outbox", "event_signup", "onboarding_step", "cadence_item"):
        op.drop_table(table)
    op.drop_table("charter_ack")
    op.drop_table("charter_version")
