"""Alembic environment: runs on the connection the store hands it, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from nbcohort.cohorts.models import Base, compared_with_models

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=compared_with_models,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=conn.dialect.name == "sqlite",
            include_object=compared_with_models,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
