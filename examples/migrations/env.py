"""Alembic's environment for the heroes example, on the app's own `Database`.

The engine comes from a crudrouter_sqla `Database` built the way the app builds it
(``SQLALCHEMY_URL``, then ``DATABASE_URL``; ``-x url=...`` overrides both), and the tables from
the example's models, so ``alembic revision --autogenerate`` compares the database with them.
Migrations run on the async engine through ``connection.run_sync``.
"""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from crudrouter_sqla.core import Database
from examples.heroes import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def database() -> Database:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return Database(url) if url else Database.from_env()


def configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode writes such migrations.
        render_as_batch=kwargs.pop("dialect_name") == "sqlite",
        **kwargs,
    )


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: write the SQL instead of running it."""
    url = database().url
    configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        dialect_name=url.get_backend_name(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_sync_migrations(connection: Connection) -> None:
    configure(connection=connection, dialect_name=connection.dialect.name)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    db = database()
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(run_sync_migrations)
            await connection.commit()
    finally:
        await db.engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
