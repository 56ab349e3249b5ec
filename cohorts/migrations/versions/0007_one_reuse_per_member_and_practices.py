"""One reuse per member and artifact; the course's practices, so "I applied this" is
accepted for those only.

Copying an artifact five times counted five reuses, so the reuse rate, one of the
community's main measures, was a number any member could inflate. Duplicates are merged
(the first copy stays, with its date) and a unique index keeps it so. Reuse counts are
computed from this table, so they are right again at once. The activity log is
append-only and keeps the duplicates' ``artifact.reuse`` entries: count reuses from this
table, or distinct (member, artifact) pairs in the log.

The practice table lists each cohort's practices (``nbcohort course sync`` fills it from
course.toml). It starts empty: until the course is synced, "I applied this" answers 404.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REUSE_INDEX = "uq_artifact_reuse_artifact_id_member_id"


def upgrade() -> None:
    op.execute(
        "DELETE FROM artifact_reuse WHERE id NOT IN "
        "(SELECT MIN(id) FROM artifact_reuse GROUP BY artifact_id, member_id)"
    )
    op.create_index(REUSE_INDEX, "artifact_reuse", ["artifact_id", "member_id"], unique=True)
    op.create_table(
        "practice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohort.id"],
            name=op.f("fk_practice_cohort_id_cohort"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice")),
        sa.UniqueConstraint("cohort_id", "key", name=op.f("uq_practice_cohort_id_key")),
    )


def downgrade() -> None:
    op.drop_table("practice")
    op.drop_index(REUSE_INDEX, table_name="artifact_reuse")
