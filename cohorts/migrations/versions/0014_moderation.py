"""Moderation for a living community: ``held_post`` (a new member's post waiting for a
champion's or facilitator's approval, apart from ``post`` until approved) and ``appeal``
(one per decided post, answered with a reason the member reads). Two new tables, nothing
rebuilt; going down drops them.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-07 06:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "held_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("reason_html", sa.Text(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        _fk("held_post", "cohort_id", "cohort"),
        _fk("held_post", "author_id", "member"),
        _fk("held_post", "parent_id", "post"),
        _fk("held_post", "decided_by", "member", "SET NULL"),
        _fk("held_post", "post_id", "post", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_post")),
    )
    op.create_index(op.f("ix_held_post_cohort_id_status"), "held_post", ["cohort_id", "status"])
    op.create_index(
        op.f("uq_held_post_author_id_request_key"),
        "held_post",
        ["author_id", "request_key"],
        unique=True,
    )
    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("held_id", sa.Integer(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("answer_html", sa.Text(), nullable=False),
        _fk("appeal", "cohort_id", "cohort"),
        _fk("appeal", "member_id", "member"),
        _fk("appeal", "post_id", "post"),
        _fk("appeal", "held_id", "held_post"),
        _fk("appeal", "decided_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal")),
        sa.UniqueConstraint("subject", name=op.f("uq_appeal_subject")),
    )


def downgrade() -> None:
    op.drop_table("appeal")
    op.drop_index(op.f("uq_held_post_author_id_request_key"), table_name="held_post")
    op.drop_index(op.f("ix_held_post_cohort_id_status"), table_name="held_post")
    op.drop_table("held_post")
