"""Exchange archives kept in the database (``ExchangeSettings.store = 'database'``):
``exchange_blob_chunk``, each archive as ordered 1 MiB pieces, gone with its
``exchange_file`` row (the foreign key cascades). Going down drops the table: archives kept
there are lost, so move to ``store = 'folder'`` first only on a database without them.
Also ``exchange_file.removed_at``: a submission its learner removed from their own list
(``nbgrader list --cached --remove``), which staff still list and collect.

Revision ID: 0021_exchange_blobs
Revises: 0020_metric_rollup
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_exchange_blobs"
down_revision = "0020_metric_rollup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_blob_chunk",
        sa.Column("blob", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob"],
            ["exchange_file.blob"],
            name=op.f("fk_exchange_blob_chunk_blob_exchange_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("blob", "seq", name=op.f("pk_exchange_blob_chunk")),
    )
    op.add_column("exchange_file", sa.Column("removed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_table("exchange_blob_chunk")
    with op.batch_alter_table("exchange_file") as batch:
        batch.drop_column("removed_at")
