"""Alembic environment for the cameo service.

Uses the shared runner for offline mode; online it opens its own one-shot
engine because the shared runner's pool swap skips the dialect's first-connect
initialisation (server_version_info stays None and autogenerate fails).
"""

from alembic import context
from sqlalchemy import create_engine, pool

from kinora.runtime.migrations import run_env
from services.cameo.models import metadata

if context.is_offline_mode():
    run_env(metadata)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
