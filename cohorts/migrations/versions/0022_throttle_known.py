"""Tokens valid lately, shared by every service process: ``known_token``, one row per token
digest with the time it stops being remembered. The failed-login throttle lets them in from
a refused address on any replica (``api/throttle_known.py``). Going down drops it (every
process then remembers only what it saw itself).

Revision ID: 0022_throttle_known
Revises: 0021_exchange_blobs
Create Date: 2026-12-07 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_throttle_known"
down_revision = "0021_exchange_blobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_token",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_known_token")),
    )
    op.create_index(op.f("ix_known_token_until"), "known_token", ["until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_known_token_until"), table_name="known_token")
    op.drop_table("known_token")
