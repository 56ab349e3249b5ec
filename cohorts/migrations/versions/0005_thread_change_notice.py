"""On PostgreSQL, NOTIFY nbcohort_thread with a thread's id whenever its row changes.

Every change a thread page shows already updates the thread's row (the 0004 triggers bump
``version``; a new title or a lock updates it directly), so one trigger on ``thread`` names
every page that went stale. A service process LISTENs and serves a cached page without a
query until a notice names its thread (``service/page_watch.py``). The notice is sent at
commit (never for a rolled-back change) and once per thread per transaction. SQLite has no
NOTIFY: its service keeps checking ``version``, a read of a local file. Nothing changes there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:00:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHANNEL = "nbcohort_thread"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION nbcohort_thread_notice() RETURNS trigger LANGUAGE plpgsql AS $$"
        f"BEGIN PERFORM pg_notify('{CHANNEL}', 't' || OLD.id); RETURN NULL; END$$"
    )
    op.execute(
        "CREATE TRIGGER thread_notice AFTER UPDATE OR DELETE ON thread FOR EACH ROW "
        "EXECUTE FUNCTION nbcohort_thread_notice()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER thread_notice ON thread")
    op.execute("DROP FUNCTION nbcohort_thread_notice()")
