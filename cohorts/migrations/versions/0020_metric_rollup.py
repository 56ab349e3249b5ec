"""The metrics read the log by seeks, not by scans: an index on ``activity`` (cohort, verb,
member, time), so that "did this member read a thread in this week?" is one look-up in it
(``metrics/log.py``; a request asks members x spans such questions instead of reading half a
million events). The database keeps it current on every write: nothing to backfill or keep
in sync. Going down drops it.

Revision ID: 0020_metric_rollup
Revises: 0019_member_skills
Create Date: 2026-12-07 16:30:00
"""

from alembic import op

revision = "0020_metric_rollup"
down_revision = "0019_member_skills"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_activity_cohort_verb_member_at", "activity", ["cohort_id", "verb", "member_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_activity_cohort_verb_member_at", table_name="activity")
