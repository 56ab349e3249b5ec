"""The community's member directory is opt-in: ``member.directory_opt_in`` (false for every
member, existing ones included: nobody is listed until they choose to be). One column;
going down drops it.

Revision ID: 0017_directory_opt_in
Revises: 0016_review_packets
Create Date: 2026-12-07 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_directory_opt_in"
down_revision = "0016_review_packets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "member",
        sa.Column("directory_opt_in", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("member") as batch:  # SQLite drops a column by copying
        batch.drop_column("directory_opt_in")
