"""post.request_key: the author's client names each new post, so sending it twice writes it once.

A member whose answer was lost (a timeout, a connection closed during the commit) sends the
same post again with the same key (``request_key`` in the post's JSON; the widgets send one
per draft); the service then returns the post it already wrote. Unique per author; posts
written without a key (the CLI, older clients) keep NULL, which never collides. A nullable
column and a unique index: SQLite adds both in place, with no copy of the post table (whose
0004 triggers a copy would drop).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "uq_post_author_id_request_key"


def upgrade() -> None:
    op.add_column("post", sa.Column("request_key", sa.String(length=64), nullable=True))
    op.create_index(INDEX, "post", ["author_id", "request_key"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="post")
    # SQLite drops a column in place (3.35+) unless an index or trigger names it.
    op.drop_column("post", "request_key")
