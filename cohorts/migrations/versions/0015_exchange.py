"""The nbgrader exchange as a service: ``exchange_file``, one row per released assignment,
submission or feedback archive (the archive itself is a file in the service's exchange
folder). One new table, nothing rebuilt; going down drops it (the files stay on disk).

Revision ID: 0015_exchange
Revises: 0014
Create Date: 2026-12-07 09:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_exchange"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _fk(column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_exchange_file_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "exchange_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("assignment", sa.String(length=100), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("blob", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("notebooks", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _fk("cohort_id", "cohort"),
        _fk("member_id", "member"),
        _fk("submission_id", "exchange_file"),
        _fk("created_by", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_file")),
        sa.UniqueConstraint("blob", name=op.f("uq_exchange_file_blob")),
    )
    op.create_index(
        op.f("ix_exchange_file_cohort_id_kind_assignment"),
        "exchange_file",
        ["cohort_id", "kind", "assignment"],
    )
    op.create_index(op.f("ix_exchange_file_member_id"), "exchange_file", ["member_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_file_member_id"), table_name="exchange_file")
    op.drop_index(op.f("ix_exchange_file_cohort_id_kind_assignment"), table_name="exchange_file")
    op.drop_table("exchange_file")
