"""Failed token attempts shared by every service process: ``failed_login``, one row per
failure (client address, time), read by the throttle of each replica. Going down drops it
(its rows are minutes old at most).

Revision ID: 0018_login_throttle
Revises: 0017_directory_opt_in
Create Date: 2026-12-07 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_login_throttle"
down_revision = "0017_directory_opt_in"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "failed_login",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_login")),
    )
    op.create_index("ix_failed_login_address_at", "failed_login", ["address", "at"])
    op.create_index(op.f("ix_failed_login_at"), "failed_login", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_failed_login_at"), table_name="failed_login")
    op.drop_index("ix_failed_login_address_at", table_name="failed_login")
    op.drop_table("failed_login")
