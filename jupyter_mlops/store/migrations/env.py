"""Alembic environment: always run on a connection handed in by :mod:`..migrate`."""

from alembic import context

from jupyter_mlops.store.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only via jupyter_mlops.store.migrate
        raise RuntimeError("Run migrations through `jupyter mlops db upgrade`.")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
