"""Ideas to pilots (#16 part 3): posts marked as ideas, members' endorsements (one each,
the unique key decides), pilots made from ideas (one per idea) and their status updates.
New tables only: nothing existing is rebuilt, so the triggers of 0004 and 0009 stay.

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


def downgrade() -> None:
    op.drop_index(op.f("ix_pilot_update_pilot_id"), table_name="pilot_update")
    op.drop_table("pilot_update")
    op.drop_index(op.f("ix_pilot_cohort_id"), table_name="pilot")
    op.drop_table("pilot")
    op.drop_table("idea_endorsement")
    op.drop_index(op.f("ix_idea_cohort_id"), table_name="idea")
    op.drop_table("idea")
