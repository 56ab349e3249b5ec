"""Recognition and champions: revocable badge awards, the badge rules' watermark, the weekly
spotlight, pinned posts, and two member preferences (hide my badges; never suggest me as a
champion).

The member columns are added in place with a server default (no table rebuild on SQLite, so
0004's trigger on member stays). ``badge_award`` gains its revocation columns in batch mode
(SQLite rebuilds that small table to add the foreign key; nothing triggers on it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.add_column(
        "member",
        sa.Column("badges_hidden", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "member",
        sa.Column("champion_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Batch mode: SQLite adds the foreign key by rebuilding badge_award (no trigger on it);
    # PostgreSQL alters it in place.
    with op.batch_alter_table("badge_award") as batch:
        batch.add_column(sa.Column("revoked_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("revoke_reason", sa.String(length=500), nullable=False, server_default="")
        )
        batch.create_foreign_key(
            op.f("fk_badge_award_revoked_by_member"),
            "member",
            ["revoked_by"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("badge_award") as batch:  # the default was for existing rows
        batch.alter_column(
            "revoke_reason", existing_type=sa.String(length=500), server_default=None
        )
    op.create_table(
        "badge_check",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("activity_upto", sa.Integer(), nullable=False),
        sa.Column("rules_sha", sa.String(length=64), nullable=False),
        sa.Column("checked_at", UTC_DATETIME, nullable=False),
        _fk("badge_check", "cohort_id", "cohort"),
        sa.PrimaryKeyConstraint("cohort_id", name=op.f("pk_badge_check")),
    )
    op.create_table(
        "spotlight",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("edited_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("published_at", UTC_DATETIME, nullable=True),
        _fk("spotlight", "cohort_id", "cohort"),
        _fk("spotlight", "edited_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spotlight")),
        sa.UniqueConstraint("cohort_id", "week", name=op.f("uq_spotlight_cohort_id_week")),
    )
    op.create_table(
        "post_pin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("pinned_by", sa.Integer(), nullable=True),
        sa.Column("pinned_at", UTC_DATETIME, nullable=False),
        _fk("post_pin", "post_id", "post"),
        _fk("post_pin", "pinned_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_pin")),
        sa.UniqueConstraint("post_id", name=op.f("uq_post_pin_post_id")),
    )


def downgrade() -> None:
    op.drop_table("post_pin")
    op.drop_table("spotlight")
    op.drop_table("badge_check")
    with op.batch_alter_table("badge_award") as batch:
        batch.drop_constraint(op.f("fk_badge_award_revoked_by_member"), type_="foreignkey")
        batch.drop_column("revoke_reason")
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
    op.drop_column("member", "champion_opt_out")
    op.drop_column("member", "badges_hidden")
