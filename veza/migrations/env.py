"""alembic environment: online migrations only, under an advisory lock."""

from alembic import context
from sqlalchemy import create_engine, pool, text

# Any constant works; it only has to be the same for every process that migrates.
MIGRATION_LOCK_ID = 0x7665_7A61  # "veza"

engine = create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
    with context.begin_transaction():
        # Held until COMMIT: a second `veza migrate` waits here, then finds nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()
engine.dispose()
