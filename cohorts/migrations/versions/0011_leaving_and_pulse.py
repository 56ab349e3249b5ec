"""Leaving and the pulse survey: ``member.left_at`` (a member who left is shown as "former
member" everywhere; their name and email are wiped from the row), and the pulse survey's
three tables: the surveys the cadence opens, who answered (never what), and what was
answered (never by whom: no member, no time, a random key).

``left_at`` is added in place on both databases (no rebuild of member, so 0004's trigger on
it stays); going down, SQLite (3.35 or newer) and PostgreSQL drop it in place too.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.add_column("member", sa.Column("left_at", UTC_DATETIME, nullable=True))
    op.create_table(
        "pulse_survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("free_text", sa.String(length=500), nullable=False),
        sa.Column("opens_at", UTC_DATETIME, nullable=False),
        sa.Column("closes_at", UTC_DATETIME, nullable=False),
        sa.Column("min_answers", sa.Integer(), nullable=False),
        _fk("pulse_survey", "cohort_id", "cohort"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_survey")),
        sa.UniqueConstraint("cohort_id", "key", name=op.f("uq_pulse_survey_cohort_id_key")),
    )
    op.create_table(
        "pulse_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        _fk("pulse_response", "survey_id", "pulse_survey"),
        _fk("pulse_response", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_response")),
        sa.UniqueConstraint(
            "survey_id", "member_id", name=op.f("uq_pulse_response_survey_id_member_id")
        ),
    )
    op.create_table(
        "pulse_answer",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _fk("pulse_answer", "survey_id", "pulse_survey"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_answer")),
    )
    op.create_index(op.f("ix_pulse_answer_survey_id"), "pulse_answer", ["survey_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pulse_answer_survey_id"), table_name="pulse_answer")
    op.drop_table("pulse_answer")
    op.drop_table("pulse_response")
    op.drop_table("pulse_survey")
    op.drop_column("member", "left_at")
