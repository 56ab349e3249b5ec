"""Review rounds: snapshotted submissions; an allocation points at a submission.

Round tables were never written before this revision, so allocation is rebuilt empty-safe:
the upgrade refuses (rather than guess) if it somehow holds rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:24:09.218918
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM allocation")).scalar()
    if held:
        raise RuntimeError(
            f"allocation holds {held} rows from an unreleased schema; export them and empty "
            "the table before upgrading"
        )
    op.create_table(
        "review_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("snapshot", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("known_scores", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("override", sa.JSON(), nullable=True),
        sa.Column("artifact_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifact.id"],
            name=op.f("fk_review_submission_artifact_id_artifact"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["member.id"],
            name=op.f("fk_review_submission_author_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["review_round.id"],
            name=op.f("fk_review_submission_round_id_review_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_submission")),
        sa.UniqueConstraint(
            "round_id", "author_id", name=op.f("uq_review_submission_round_id_author_id")
        ),
    )
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_id", sa.Integer(), nullable=False))
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="peer")
        )
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("uq_allocation_round_id_reviewer_id_author_id"), type_="unique"
        )
        batch_op.create_index(
            batch_op.f("ix_allocation_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_allocation_round_id_reviewer_id_submission_id"),
            ["round_id", "reviewer_id", "submission_id"],
        )
        batch_op.drop_constraint(batch_op.f("fk_allocation_author_id_member"), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_allocation_submission_id_review_submission"),
            "review_submission",
            ["submission_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_column("author_id")

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )

    with op.batch_alter_table("review_round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("folder", sa.String(length=500), nullable=False, server_default="")
        )
    # The defaults only filled existing rows; the models set every value themselves.
    for table, column in (
        ("allocation", "kind"),
        ("review", "updated_at"),
        ("review_round", "folder"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("review_round", schema=None) as batch_op:
        batch_op.drop_column("folder")

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("updated_at")

    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.INTEGER(), nullable=False))
        batch_op.drop_constraint(
            batch_op.f("fk_allocation_submission_id_review_submission"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocation_author_id_member"),
            "member",
            ["author_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint(
            batch_op.f("uq_allocation_round_id_reviewer_id_submission_id"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_allocation_submission_id"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_allocation_round_id_reviewer_id_author_id"),
            ["round_id", "reviewer_id", "author_id"],
        )
        batch_op.drop_column("due_at")
        batch_op.drop_column("kind")
        batch_op.drop_column("submission_id")

    op.drop_table("review_submission")
