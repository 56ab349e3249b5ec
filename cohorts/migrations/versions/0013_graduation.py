"""Graduation: ``cohort.community`` (the community of practice a cohort graduated into,
indexed: every community read asks which cohorts share it) and ``cohort.graduated_at``.

Both are added in place on SQLite and PostgreSQL (no rebuild of cohort); going down they are
dropped in place too (SQLite 3.35 or newer).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cohort", sa.Column("community", sa.String(length=64), nullable=True))
    op.add_column("cohort", sa.Column("graduated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_cohort_community"), "cohort", ["community"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_cohort_community"), table_name="cohort")
    op.drop_column("cohort", "graduated_at")
    op.drop_column("cohort", "community")
