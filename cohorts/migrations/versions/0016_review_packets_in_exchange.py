"""Review packets kept by the service exchange: ``exchange_file.packet`` names a review
round's anonymized packet (its folder name, as ``allocation.packet`` ends), unique per cohort.
One nullable column and one index; going down drops them (packet rows go first).

Revision ID: 0016_review_packets
Revises: 0015_exchange
Create Date: 2026-12-07 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_review_packets"
down_revision = "0015_exchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exchange_file", sa.Column("packet", sa.String(length=160), nullable=True))
    op.create_index(
        op.f("ix_exchange_file_cohort_id_packet"),
        "exchange_file",
        ["cohort_id", "packet"],
        unique=True,
    )


def downgrade() -> None:
    op.execute("DELETE FROM exchange_file WHERE kind = 'packet'")
    op.drop_index(op.f("ix_exchange_file_cohort_id_packet"), table_name="exchange_file")
    with op.batch_alter_table("exchange_file") as batch:  # SQLite drops a column by copying
        batch.drop_column("packet")
